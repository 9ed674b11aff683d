export { mergeStage } from './stage.js';
