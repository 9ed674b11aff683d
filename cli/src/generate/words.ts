/**
 * Word lists and text builders for synthetic French wine products.
 * Everything is assembled from these lists; nothing comes from the reference exports.
 */
import type { Rng } from './prng.js';

const FAMILIES = [
  'Martin',
  'Bernard',
  'Dubois',
  'Moreau',
  'Laurent',
  'Simon',
  'Michel',
  'Lefebvre',
  'Leroy',
  'Roux',
  'Bertrand',
  'Morel',
  'Fournier',
  'Girard',
  'Bonnet',
  'Dupont',
  'Lambert',
  'Fontaine',
  'Rousseau',
  'Vincent',
  'Muller',
  'Faure',
  'Mercier',
  'Blanc',
  'Guérin',
  'Boyer',
  'Garnier',
  'Chevalier',
  'Legrand',
  'Gauthier',
  'Perrin',
  'Robin',
  'Clément',
  'Morin',
  'Nicolas',
  'Roussel',
  'Mathieu',
  'Masson',
  'Marchand',
  'Duval',
  'Dumont',
  'Lemaire',
  'Noël',
  'Meyer',
  'Dufour',
  'Meunier',
  'Brun',
  'Blanchard',
  'Giraud',
  'Joly',
  'Rivière',
  'Brunet',
  'Barbier',
  'Arnaud',
  'Roche',
  'Renard',
  'Schmitt',
  'Leroux',
  'Vidal',
  'Caron',
  'Picard',
  'Fabre',
  'Aubert',
  'Lemoine',
  'Renaud',
  'Dumas',
  'Lacroix',
  'Bourgeois',
  'Rey',
  'Leclerc',
  'Rolland',
  'Guillot',
  'Hubert',
  'Berger',
  'Carpentier',
  'Dupuis',
  'Moulin',
  'Deschamps',
  'Huet',
  'Fleury',
  'Royer',
  'Klein',
  'Jacquet',
  'Poirier',
  'Marty',
  'Aubry',
  'Guyot',
  'Charpentier',
  'Ménard',
  'Maillard',
  'Bertin',
  'Bailly',
  'Hervé',
  'Schneider',
  'Bouvier',
  'Prévost',
  'Millet',
  'Perrot',
  'Germain',
  'Besson',
  'Langlois',
  'Pelletier',
  'Lévêque',
  'Lebrun',
  'Marchal',
  'Weber',
  'Hamon',
  'Boulanger',
  'Monnier',
  'Michaud',
  'Guichard',
  'Gillet',
  'Tessier',
  'Chauvin',
  'Bouchet',
  'Humbert',
  'Reynaud',
  'Cordier',
  'Pichon',
  'Lejeune',
  'Delaunay',
  'Pasquier',
  'Laporte',
] as const;

const PLACES = [
  'des Chênes',
  'de la Source',
  'du Moulin',
  'des Garrigues',
  "de l'Orme",
  'des Tilleuls',
  'de la Colline',
  'du Vieux Puits',
  'des Roches',
  'de la Tour',
  'Belair',
  'Beauséjour',
  'Montplaisir',
  'Haut-Mayne',
  'la Croix Blanche',
  'les Granges',
  'la Fontaine',
  'Bellevue',
  'des Sablons',
  'de la Pierre Levée',
  'du Grand Pré',
  'des Aubépines',
  'de la Garenne',
  'des Cigales',
  'du Petit Bois',
  'de Peyrolles',
  'des Lauriers',
  'de la Butte',
  'Roquebrune',
  'des Amandiers',
  'du Val Fleuri',
  'de Saint-Aubin-Haut',
  'la Clairière',
  'des Hauts Vents',
  'du Coteau Sec',
  'de la Rivière Basse',
  'Terres Rouges',
  'Mirebelle',
] as const;

const CLOS = [
  'des Oliviers',
  'Saint-Vincent',
  'du Prieuré',
  'des Vignes Hautes',
  'de la Chapelle',
  'des Fées',
  'du Roi',
  'Marceau',
  'des Lièvres',
  'Sainte-Anne',
] as const;

const APPELLATIONS = [
  // Bordeaux
  'Pomerol',
  'Saint-Émilion Grand Cru',
  'Pauillac',
  'Margaux',
  'Saint-Julien',
  'Pessac-Léognan',
  'Graves',
  'Médoc',
  'Haut-Médoc',
  'Côtes de Bourg',
  'Sauternes',
  'Bordeaux Supérieur',
  'Listrac-Médoc',
  // Bourgogne, Beaujolais
  'Chablis',
  'Chablis 1er Cru',
  'Meursault',
  'Puligny-Montrachet',
  'Chassagne-Montrachet',
  'Volnay',
  'Pommard',
  'Gevrey-Chambertin',
  'Nuits-Saint-Georges',
  'Mercurey',
  'Givry',
  'Rully',
  'Bourgogne Aligoté',
  'Mâcon-Villages',
  'Pouilly-Fuissé',
  'Saint-Véran',
  'Morgon',
  'Fleurie',
  'Moulin-à-Vent',
  'Brouilly',
  'Juliénas',
  // Rhône
  'Côte Rôtie',
  'Condrieu',
  'Saint-Joseph',
  'Crozes-Hermitage',
  'Hermitage',
  'Cornas',
  'Châteauneuf-du-Pape',
  'Gigondas',
  'Vacqueyras',
  'Côtes-du-Rhône',
  'Côtes-du-Rhône Villages',
  'Lirac',
  'Tavel',
  'IGP Collines Rhodaniennes',
  // Loire
  'Sancerre',
  'Pouilly-Fumé',
  'Vouvray',
  'Chinon',
  'Saumur-Champigny',
  'Muscadet Sèvre et Maine',
  'Savennières',
  'Bourgueil',
  'Menetou-Salon',
  'Anjou',
  // Languedoc, Roussillon, Sud-Ouest, Provence
  'Pic Saint-Loup',
  'Faugères',
  'Minervois',
  'Corbières',
  'Saint-Chinian',
  'Cabardès',
  "IGP Pays d'Oc",
  'Terrasses du Larzac',
  'Côtes du Roussillon',
  'Collioure',
  'Cahors',
  'Madiran',
  'Jurançon',
  'Gaillac',
  'Irouléguy',
  'Bandol',
  'Côtes de Provence',
  'Cassis',
  'Côtes de Thongue',
  // Alsace, Jura, Champagne
  'Alsace Riesling',
  'Alsace Gewurztraminer',
  'Alsace Pinot Gris',
  "Crémant d'Alsace",
  'Arbois',
  'Côtes du Jura',
  'Champagne Brut',
  'Champagne Blanc de Blancs',
  'Champagne Rosé',
] as const;

const CUVEES = [
  'Vieilles Vignes',
  'Cuvée Prestige',
  'Tradition',
  'Réserve',
  'Les Terrasses',
  'Les Galets',
  "L'Éclat",
  'Terre de Feu',
  'Les Hauts',
  'Premier Rang',
  'Grande Réserve',
  'Sélection Parcellaire',
  'Les Cailloux',
  'Fût de Chêne',
  'Cuvée Tentation',
  'Les Racines',
  'Blanc',
  'Rouge',
  'Rosé',
  'Sous Bois',
  'Éclipse',
  'La Combe',
  'Les Crays',
  'Coteaux',
  'En Chaume',
  "Saut de l'Ange",
  'Accroche Cœur',
  'Les Murets',
  'Clair de Lune',
  'Le Petit Caillou',
  'Pierres Dorées',
  'Cuvée des Anciens',
  'Argiles',
  'Schistes',
] as const;

const SPIRITS = [
  'Whisky Single Malt 10 ans',
  'Whisky Single Malt 12 ans',
  'Whisky Blended Malt',
  'Rhum Agricole Vieux',
  'Cognac VSOP',
  'Cognac XO',
  'Armagnac Hors d’Âge',
  'Calvados Pays d’Auge',
  'Eau-de-vie de Poire Williams',
  'Gin Artisanal',
] as const;

const AROMAS = [
  'fruits rouges',
  'cassis',
  'cerise noire',
  'mûre',
  'fraise des bois',
  'framboise',
  'prune',
  'pêche blanche',
  'abricot',
  'agrumes',
  'citron confit',
  'poire',
  'pomme verte',
  'fleurs blanches',
  'violette',
  'réglisse',
  'poivre noir',
  'épices douces',
  'vanille',
  'cacao',
  'moka',
  'tabac blond',
  'sous-bois',
  'truffe',
  'pierre à fusil',
  'miel',
  'brioche',
  'amande grillée',
  'garrigue',
  'thym',
  'laurier',
  'menthe fraîche',
] as const;
const NOSE_ADJ = ['expressif', 'délicat', 'intense', 'complexe', 'frais', 'séducteur', 'profond'] as const;
const TEXTURES = [
  'ample',
  'soyeuse',
  'tendue',
  'ronde',
  'charnue',
  'minérale',
  'fraîche',
  'dense',
  'gourmande',
  'veloutée',
  'structurée',
  'ciselée',
] as const;
const SUPPORTS = [
  'des tanins fins',
  'une belle acidité',
  'une trame saline',
  'une matière généreuse',
  'des tanins fondus',
  'une fraîcheur éclatante',
  'un boisé bien intégré',
] as const;
const FINALES = ['longue', 'saline', 'épicée', 'persistante', 'fraîche', 'réglissée', 'gourmande'] as const;
const FOODS = [
  'une côte de bœuf',
  'un magret de canard',
  'des fromages affinés',
  'un poisson grillé',
  'des fruits de mer',
  'une volaille rôtie',
  "un gigot d'agneau",
  'un plateau de charcuterie',
  'une tarte aux fruits',
  'des sushis',
  'un risotto aux champignons',
  'une blanquette de veau',
] as const;
const WINE_ADJ = ['élégant', 'généreux', 'racé', 'sincère', 'lumineux', 'digeste', 'harmonieux'] as const;

export function producer(rng: Rng): string {
  const u = rng.next();
  if (u < 0.35) return `Domaine ${rng.pick(PLACES)}`;
  if (u < 0.55) return `Château ${rng.pick(PLACES)}`;
  if (u < 0.7) return `Domaine ${rng.pick(FAMILIES)}`;
  if (u < 0.8) return `Maison ${rng.pick(FAMILIES)}`;
  if (u < 0.88) return `Clos ${rng.pick(CLOS)}`;
  if (u < 0.94) return `${rng.pick(FAMILIES)} Père et Fils`;
  return `${rng.pick(FAMILIES)} ${rng.pick(FAMILIES)}`;
}

/** A product title such as "Domaine des Chênes Saint-Joseph Vieilles Vignes 2017". */
export function wineTitle(rng: Rng, exportYear: number): string {
  const who = producer(rng);
  if (rng.chance(0.03)) {
    return `${who} ${rng.pick(SPIRITS)}`;
  }
  const aoc = rng.pick(APPELLATIONS);
  const cuvee = rng.chance(0.55) ? ` ${rng.pick(CUVEES)}` : '';
  const nonVintage = aoc.startsWith('Champagne') || aoc.startsWith('Crémant');
  const vintage = nonVintage && rng.chance(0.7) ? '' : ` ${exportYear - rng.int(1, 9)}`;
  return `${who} ${aoc}${cuvee}${vintage}`;
}

/** WordPress-like slug: lower case, no accents, dashes. */
export function slugify(text: string): string {
  return text
    .normalize('NFD')
    .replace(/\p{M}/gu, '')
    .toLowerCase()
    .replace(/œ/g, 'oe')
    .replace(/æ/g, 'ae')
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '');
}

const TEMPLATES = [0, 1, 2, 3, 4, 5, 6] as const;

function sentence(rng: Rng, template: number): string {
  const [a, b, c] = rng.sample(AROMAS, 3) as [string, string, string];
  switch (template) {
    case 0:
      return `Le nez s'ouvre sur des notes de ${a} et de ${b}.`;
    case 1:
      return `Nez ${rng.pick(NOSE_ADJ)} aux arômes de ${a}, de ${b} et de ${c}.`;
    case 2:
      return `La bouche est ${rng.pick(TEXTURES)}, ${rng.pick(TEXTURES)}, portée par ${rng.pick(SUPPORTS)}.`;
    case 3:
      return `En bouche, on retrouve ${a} et ${b} avec une finale ${rng.pick(FINALES)}.`;
    case 4:
      return `À servir avec ${rng.pick(FOODS)}.`;
    case 5:
      return `Un vin ${rng.pick(WINE_ADJ)} à ouvrir dès maintenant ou à garder ${rng.int(3, 12)} ans.`;
    default:
      return `Une bouche ${rng.pick(TEXTURES)} et ${rng.pick(TEXTURES)}, d’une belle longueur sur ${c}.`;
  }
}

/** The shop's short description; about one in eight carries leftover HTML from the CMS editor. */
export function excerpt(rng: Rng): string {
  const parts = rng.sample(TEMPLATES, rng.int(1, 4)).map((t) => sentence(rng, t));
  const text = parts.join(' ');
  const u = rng.next();
  if (u < 0.05) return `<span style="font-weight: 400;">${text}</span>`;
  if (u < 0.09) {
    return `<div class="row">\n<div class="features-v2">\n<p>${text}</p>\n</div>\n</div>`;
  }
  if (u < 0.12 && parts.length > 1) return parts.map((p) => `<p>${p}</p>`).join('\n');
  return text;
}

export const GIFT_CARD_EXCERPT =
  'Offrez le choix ! Ce bon cadeau est valable sur toute la boutique pendant un an, vins et spiritueux compris.';
