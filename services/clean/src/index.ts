export { cleanStage } from './stage.js';
