import { defineStage } from '@bottleneck/shared/assets/define';
import { erpClean } from './assets/erp_clean.js';
import { liaisonClean } from './assets/liaison_clean.js';
import { webClean } from './assets/web_clean.js';

/**
 * clean: the cleaning rules of the three exports, and the quality gate: the checks of the cleaned
 * assets, two of them across assets; `validated` is emitted only when no blocking check failed.
 */
export const cleanStage = defineStage({ stage: 'clean', assets: [erpClean, webClean, liaisonClean] });
