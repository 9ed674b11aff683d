export { ingestStage } from './stage.js';
