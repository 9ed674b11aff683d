import { defineStage } from '@bottleneck/shared/assets/define';
import { revenuePerProduct } from './assets/revenue_per_product.js';
import { revenueReport } from './assets/revenue_report.js';
import { winePriceZscores } from './assets/wine_price_zscores.js';
import { ordinaryWines, premiumWines } from './assets/wines.js';

export { PREMIUM_Z } from './assets/wines.js';

/** analytics: the reports of the month. */
export const analyticsStage = defineStage({
  stage: 'analytics',
  assets: [revenuePerProduct, winePriceZscores, premiumWines, ordinaryWines, revenueReport],
});
