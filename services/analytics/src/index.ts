export { analyticsStage, PREMIUM_Z } from './stage.js';
