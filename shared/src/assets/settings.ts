/**
 * Thresholds of the checks that compare a month with the last published month before it
 * (month over month): decimal text, bound to the SQL as exact decimals. From BN_MOM_* (validated
 * with the rest of the configuration); defaults when unset.
 */
export interface MonthOverMonth {
  /** Total revenue may change by at most this many percent (BN_MOM_REVENUE_CHANGE_PCT). */
  revenueChangePct: string;
  /** The product count may change by at most this many percent (BN_MOM_PRODUCT_COUNT_CHANGE_PCT). */
  productCountChangePct: string;
  /** A product's price may be at most this many times (or one over it) its previous price (BN_MOM_PRICE_RATIO). */
  priceRatio: string;
  /** Products that appeared plus those that disappeared may be at most this percent of the previous month's (BN_MOM_PRODUCTS_CHURN_PCT). */
  productsChurnPct: string;
}

export interface CheckSettings {
  mom: MonthOverMonth;
}

export const DEFAULT_CHECK_SETTINGS: CheckSettings = {
  mom: { revenueChangePct: '30', productCountChangePct: '20', priceRatio: '2', productsChurnPct: '10' },
};

/** The check settings from a loaded configuration (the services' or the CLI's): what is set, else the defaults. */
export function checkSettingsOf(config: object): CheckSettings {
  const c = config as Record<string, unknown>;
  const s = (name: string, dflt: string) => (typeof c[name] === 'string' ? c[name] : dflt);
  const d = DEFAULT_CHECK_SETTINGS.mom;
  return {
    mom: {
      revenueChangePct: s('BN_MOM_REVENUE_CHANGE_PCT', d.revenueChangePct),
      productCountChangePct: s('BN_MOM_PRODUCT_COUNT_CHANGE_PCT', d.productCountChangePct),
      priceRatio: s('BN_MOM_PRICE_RATIO', d.priceRatio),
      productsChurnPct: s('BN_MOM_PRODUCTS_CHURN_PCT', d.productsChurnPct),
    },
  };
}
