export { publisherStage, type Manifest } from './stage.js';
