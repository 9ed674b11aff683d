import { defineStage } from '@bottleneck/shared/assets/define';
import { mergedWithRevenue } from './assets/merged_with_revenue.js';

/** merge: joins the three cleaned assets and computes revenue. */
export const mergeStage = defineStage({ stage: 'merge', assets: [mergedWithRevenue] });
