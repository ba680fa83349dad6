/**
 * A second catalogue, laid out unlike the fashion one, built for the tests from the shared photos:
 * a shop's `sku,title,brand,colour,category,price` CSV, photos in nested folders by category
 * named by sku (copies of 18 fashion photos of T-shirts, bags and shoes: links out of a catalogue
 * folder are not followed when indexing), and two rows without a
 * photo. Its schema is detected: id sku, title title, facets brand, colour and category (the kind),
 * not the price (numbers). Built once under .cache/ and indexed there (indexing is incremental).
 */
import { existsSync } from 'node:fs';
import { copyFile, lstat, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { readMetadataTable } from '../../src/catalogue/metadata.js';
import { cacheDir } from '../../src/config.js';
import { buildIndex } from './build-index.js';
import { catalogueImage, stylesCsv } from './datasets.js';

export interface ShopRow {
  sku: string;
  title: string;
  brand: string;
  colour: string;
  category: string;
  price: string;
}

export interface ShopCatalogue {
  dir: string;
  photos: string;
  csv: string;
  /** Rows with a photo, in CSV order. */
  rows: ShopRow[];
  /** Skus listed without a photo. */
  missing: string[];
}

const KINDS: Record<string, string> = { Tshirts: 'T-shirt', Handbags: 'Bag', 'Casual Shoes': 'Shoe' };

export async function shopCatalogue(): Promise<ShopCatalogue> {
  const dir = join(cacheDir, 'test-catalogues', 'shop');
  const photos = join(dir, 'photos');
  const { rows: styles } = await readMetadataTable(stylesCsv);
  const rows: ShopRow[] = [];
  for (const [articleType, category] of Object.entries(KINDS)) {
    const chosen = styles
      .filter((r) => r.articleType === articleType && ['Black', 'White', 'Blue'].includes(r.baseColour ?? ''))
      .filter((r) => existsSync(catalogueImage(r.id as string)))
      .sort((a, b) => Number(a.id) - Number(b.id))
      .slice(0, 6);
    chosen.forEach((r, i) => {
      const brand = i % 2 === 0 ? 'Acme' : 'Zenith';
      const colour = r.baseColour as string;
      const price = String(10 + (Number(r.id) % 90));
      rows.push({
        sku: `SKU-${r.id}`,
        title: `${brand} ${colour} ${category} ${r.id}`,
        brand,
        colour,
        category,
        price,
      });
    });
  }
  for (const row of rows) {
    const folder = join(photos, row.category.toLowerCase());
    await mkdir(folder, { recursive: true });
    const photo = join(folder, `${row.sku}.jpg`);
    // (Earlier versions made links here: replaced by copies.)
    const st = await lstat(photo).catch(() => undefined);
    if (st?.isSymbolicLink()) await rm(photo);
    if (!st?.isFile()) await copyFile(catalogueImage(row.sku.slice(4)), photo);
  }
  const missing = ['SKU-NOPHOTO-1', 'SKU-NOPHOTO-2'];
  const lines = [
    'sku,title,brand,colour,category,price',
    ...rows.map((r) => [r.sku, r.title, r.brand, r.colour, r.category, r.price].join(',')),
    ...missing.map((sku) => `${sku},Acme Black T-shirt without a photo,Acme,Black,T-shirt,20`),
  ];
  const csv = join(dir, 'products.csv');
  const text = `${lines.join('\n')}\n`;
  if (!existsSync(csv) || (await readFile(csv, 'utf8')) !== text) await writeFile(csv, text);
  return { dir, photos, csv, rows, missing };
}

/** The shop catalogue and its index (under .cache/test-indexes/shop). */
export async function shopIndex(): Promise<ShopCatalogue & { index: string }> {
  const shop = await shopCatalogue();
  const index = join(cacheDir, 'test-indexes', 'shop');
  await buildIndex({ imagesDir: shop.photos, outDir: index, metadataPath: shop.csv });
  return { ...shop, index };
}
