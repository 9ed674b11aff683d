#!/usr/bin/env python3
"""The pandas baseline that `npm run bench` times beside `bottleneck run`.

The same work as the pipeline, written the way an analyst would with pandas and openpyxl: read the
three workbooks, apply the cleaning rules of README.md's "The rules", merge, compute revenue and the
price z-score, write merged_with_revenue.csv, premium_wines.csv, ordinary_wines.csv and
revenue_per_product.xlsx. Prints one JSON line (row counts, total revenue, peak RSS) so the bench
can check that both did the same work.

Usage: /usr/bin/python3 scripts/bench/pandas_baseline.py INPUT_DIR OUT_DIR
Needs Debian's python3-pandas and python3-openpyxl.
"""
import json
import os
import re
import resource
import sys

import pandas as pd


def key(v):
    """id_web and sku compared as trimmed text: 16004, 16004.0 and " 16004 " are one key."""
    if v is None or (isinstance(v, float) and v != v):
        return None
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    s = str(v).strip()
    return s or None


def main(inp, out):
    read = lambda name: pd.read_excel(os.path.join(inp, name), sheet_name='Sheet1', engine='openpyxl')
    erp, web, liaison = read('erp.xlsx'), read('web.xlsx'), read('liaison.xlsx')

    erp = erp.dropna(subset=['product_id']).drop_duplicates()
    liaison = liaison.drop_duplicates()
    web = web[web['sku'].notna() & (web['post_type'] == 'product')].drop_duplicates()
    web = web.assign(_key=web['sku'].map(key), _pos=range(len(web)))
    web = web[web['_key'].notna()]
    # One row per sku: the most recent post_modified, ties to the first row in the file.
    web = web.sort_values(['post_modified', '_pos'], ascending=[False, True]).drop_duplicates('_key').drop(columns='_pos')
    liaison = liaison.assign(_key=liaison['id_web'].map(key))

    merged = erp.merge(liaison, on='product_id').merge(web, on='_key')
    merged['revenue'] = (merged['price'] * merged['total_sales']).round(2)
    merged = merged.drop(columns=['_key', 'id_web']).sort_values('product_id')
    cols = ['product_id', 'sku'] + [c for c in merged.columns if c not in ('product_id', 'sku')]
    merged = merged[cols]

    price = merged['price']
    merged['z_score'] = ((price - price.mean()) / price.std(ddof=1)).round(6)
    merged['is_vintage'] = merged['post_title'].fillna('').map(lambda t: bool(re.search(r'\b(19|20)\d\d\b', t)))
    os.makedirs(out, exist_ok=True)
    merged.drop(columns=['z_score', 'is_vintage']).to_csv(os.path.join(out, 'merged_with_revenue.csv'), index=False, float_format='%.2f')
    wines = merged.sort_values(['price', 'product_id'], ascending=[False, True])
    wine_cols = ['product_id', 'sku', 'post_title', 'price', 'total_sales', 'revenue', 'stock_status', 'z_score', 'is_vintage', 'guid']
    premium, ordinary = wines[wines['z_score'] > 2][wine_cols], wines[wines['z_score'] <= 2][wine_cols]
    premium.to_csv(os.path.join(out, 'premium_wines.csv'), index=False)
    ordinary.to_csv(os.path.join(out, 'ordinary_wines.csv'), index=False)

    by_revenue = merged.sort_values(['revenue', 'product_id'], ascending=[False, True])[['product_id', 'sku', 'post_title', 'total_sales', 'revenue']]
    total = round(float(merged['revenue'].sum()), 2)
    summary = pd.DataFrame({'Metric': ['Total Revenue', 'Products', 'Premium wines', 'Ordinary wines', 'Units sold'],
                            'Value': [total, len(merged), len(premium), len(ordinary), int(merged['total_sales'].sum())]})
    with pd.ExcelWriter(os.path.join(out, 'revenue_per_product.xlsx'), engine='openpyxl') as xl:
        by_revenue.to_excel(xl, sheet_name='Revenue by Product', index=False)
        summary.to_excel(xl, sheet_name='Summary', index=False)

    print(json.dumps({
        'rows': {'erp_clean': len(erp), 'web_clean': len(web), 'liaison_clean': len(liaison), 'merged': len(merged)},
        'totalRevenue': f'{total:.2f}', 'premium': len(premium), 'ordinary': len(ordinary),
        'peakRssKB': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        'cpuMs': round((resource.getrusage(resource.RUSAGE_SELF).ru_utime + resource.getrusage(resource.RUSAGE_SELF).ru_stime) * 1000),
    }))


if __name__ == '__main__':
    if len(sys.argv) != 3:
        sys.exit('usage: pandas_baseline.py INPUT_DIR OUT_DIR')
    main(sys.argv[1], sys.argv[2])
