/**
 * What a catalogue is: which column identifies a product, where its photo is, which column is its
 * title and which columns are filters (facets). Detected from the metadata file, overridable on the
 * command line or in a `lookalike.json` beside the metadata, and stored with the index.
 *
 * This is the one module that knows the fashion catalogue's column names (the Kaggle
 * `styles.csv`): everything else follows the schema.
 */
import { z } from 'zod';

export const SCHEMA_VERSION = 1;

export const catalogueSchemaZ = z.object({
  version: z.literal(SCHEMA_VERSION),
  /** The column whose value identifies a product. */
  idColumn: z.string().min(1),
  /**
   * Where each product's photo is: a file named `<id>.<ext>` anywhere under the photos folder,
   * or a path (relative to the photos folder) in a metadata column.
   */
  image: z.discriminatedUnion('by', [
    z.object({ by: z.literal('file-name') }),
    z.object({ by: z.literal('column'), column: z.string().min(1) }),
  ]),
  /** The column shown as the product's name. */
  titleColumn: z.string().min(1).optional(),
  /** Columns a search can be filtered on, in the order they are shown. */
  facets: z.array(z.string().min(1)),
  /** The facet that says what kind of product it is (evaluation's headline label, "same kind" reasons). */
  kindColumn: z.string().min(1).optional(),
  /** The facet that names the product's colour (a swatch on the page). */
  colourColumn: z.string().min(1).optional(),
});

export type CatalogueSchema = z.infer<typeof catalogueSchemaZ>;

/** What a user may set (command-line flags or `lookalike.json`); the rest is detected. */
export const schemaOverridesZ = z
  .object({
    idColumn: z.string().min(1),
    imageColumn: z.string().min(1),
    titleColumn: z.string().min(1),
    facets: z.array(z.string().min(1)),
    kindColumn: z.string().min(1),
    colourColumn: z.string().min(1),
  })
  .partial()
  .strict();

export type SchemaOverrides = z.infer<typeof schemaOverridesZ>;

/** The file beside the metadata that overrides the detected schema. */
export const SCHEMA_FILE = 'lookalike.json';

export class SchemaError extends Error {}

/** The Kaggle fashion catalogue (`styles.csv`), kept exactly as Lookalike has always served it. */
const FASHION = {
  signature: ['id', 'gender', 'masterCategory', 'subCategory', 'articleType', 'baseColour'],
  schema: {
    version: SCHEMA_VERSION,
    idColumn: 'id',
    image: { by: 'file-name' },
    titleColumn: 'productDisplayName',
    facets: ['gender', 'masterCategory', 'subCategory', 'articleType', 'baseColour'],
    kindColumn: 'articleType',
    colourColumn: 'baseColour',
  } satisfies CatalogueSchema,
};

/** A schema for photos without metadata: ids from file names, nothing to filter on. */
export function photosOnlySchema(overrides: SchemaOverrides = {}): CatalogueSchema {
  return {
    version: SCHEMA_VERSION,
    idColumn: 'id',
    image: { by: 'file-name' },
    facets: [],
    ...pick(overrides),
  };
}

function pick(o: SchemaOverrides): Partial<CatalogueSchema> {
  const out: Partial<CatalogueSchema> = {};
  if (o.idColumn) out.idColumn = o.idColumn;
  if (o.imageColumn) out.image = { by: 'column', column: o.imageColumn };
  if (o.titleColumn) out.titleColumn = o.titleColumn;
  if (o.facets) out.facets = o.facets;
  if (o.kindColumn) out.kindColumn = o.kindColumn;
  if (o.colourColumn) out.colourColumn = o.colourColumn;
  return out;
}

const ID_NAMES = ['id', 'sku', 'product_id', 'productid', 'item_id', 'article_id', 'code'];
const IMAGE_NAMES = [
  'image',
  'image_path',
  'imagepath',
  'photo',
  'photo_path',
  'picture',
  'file',
  'filename',
  'path',
];
const TITLE_NAMES = ['title', 'name', 'product_name', 'productname', 'display_name', 'description'];
const KIND_PATTERN = /(article.?type|category|type|kind)$/i;
const COLOUR_PATTERN = /colou?r/i;
/** A facet has few distinct values: at most this many, and fewer than half the rows. */
const MAX_FACET_VALUES = 200;

const findColumn = (columns: readonly string[], names: readonly string[]) =>
  columns.find((c) => names.includes(c.toLowerCase()));

const isNumeric = (value: string) => value !== '' && Number.isFinite(Number(value));

/**
 * The schema of a catalogue from its metadata rows (all columns as strings): the known fashion
 * layout as it has always been, else columns found by name and by their values. Overrides win.
 */
export function detectSchema(
  columns: readonly string[],
  rows: readonly Record<string, string | undefined>[],
  overrides: SchemaOverrides = {},
): CatalogueSchema {
  const base = FASHION.signature.every((c) => columns.includes(c))
    ? { ...FASHION.schema, facets: [...FASHION.schema.facets] }
    : detectGeneric(columns, rows, overrides);
  const schema = { ...base, ...pick(overrides) };
  return checkSchema(schema, columns);
}

function detectGeneric(
  columns: readonly string[],
  rows: readonly Record<string, string | undefined>[],
  overrides: SchemaOverrides,
): CatalogueSchema {
  const idColumn = overrides.idColumn ?? findColumn(columns, ID_NAMES) ?? columns[0];
  if (!idColumn) throw new SchemaError('the metadata has no columns');
  const imageColumn = overrides.imageColumn ?? findColumn(columns, IMAGE_NAMES);
  const titleColumn = overrides.titleColumn ?? findColumn(columns, TITLE_NAMES);
  const taken = new Set([idColumn, imageColumn, titleColumn]);
  const facets = columns.filter((column) => {
    if (taken.has(column)) return false;
    const values = rows.map((r) => r[column]?.trim() ?? '').filter((v) => v !== '');
    if (values.length === 0 || values.every(isNumeric)) return false;
    const distinct = new Set(values.map((v) => v.toLowerCase())).size;
    return distinct <= MAX_FACET_VALUES && distinct < Math.max(2, values.length / 2);
  });
  const kindColumn = facets.find((c) => KIND_PATTERN.test(c));
  const colourColumn = facets.find((c) => COLOUR_PATTERN.test(c));
  return {
    version: SCHEMA_VERSION,
    idColumn,
    image: imageColumn ? { by: 'column', column: imageColumn } : { by: 'file-name' },
    ...(titleColumn ? { titleColumn } : {}),
    facets,
    ...(kindColumn ? { kindColumn } : {}),
    ...(colourColumn ? { colourColumn } : {}),
  };
}

/** Throws a SchemaError naming the columns a schema refers to that the metadata lacks. */
export function checkSchema(schema: CatalogueSchema, columns: readonly string[]): CatalogueSchema {
  const known = new Set(columns);
  const named = [
    ['id column', schema.idColumn],
    ['image column', schema.image.by === 'column' ? schema.image.column : undefined],
    ['title column', schema.titleColumn],
    ['kind column', schema.kindColumn],
    ['colour column', schema.colourColumn],
    ...schema.facets.map((f) => ['facet', f]),
  ] as const;
  for (const [what, column] of named) {
    if (column !== undefined && !known.has(column)) {
      throw new SchemaError(
        `the ${what} "${column}" is not in the metadata; its columns are: ${columns.join(', ')}`,
      );
    }
  }
  if (schema.kindColumn && !schema.facets.includes(schema.kindColumn)) schema.facets.push(schema.kindColumn);
  return schema;
}

/** The product's title under the schema (its id when it has none). */
export function titleOf(
  schema: CatalogueSchema,
  metadata: Readonly<Record<string, string>>,
): string | undefined {
  return schema.titleColumn ? metadata[schema.titleColumn] : undefined;
}

/** The facet values of a product, in the schema's order (for cards, tables and JSON). */
export function facetValues(
  schema: CatalogueSchema,
  metadata: Readonly<Record<string, string>>,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const facet of schema.facets) {
    const value = metadata[facet];
    if (value) out[facet] = value;
  }
  return out;
}

/** One line of the schema for logs: `id=sku photo=<id>.<ext> title=title facets=brand,colour`. */
export function describeSchema(schema: CatalogueSchema): string {
  const photo = schema.image.by === 'column' ? `column ${schema.image.column}` : '<id>.<ext>';
  return (
    `id=${schema.idColumn} photo=${photo} title=${schema.titleColumn ?? '-'} ` +
    `facets=${schema.facets.join(',') || '-'}${schema.kindColumn ? ` kind=${schema.kindColumn}` : ''}`
  );
}

/**
 * The schema of products already indexed without one recorded (indexes made before schemas):
 * detected from their metadata, as it would have been from the metadata file.
 */
export function schemaOfProducts(
  metadata: readonly Readonly<Record<string, string>>[],
  idColumn = 'id',
): CatalogueSchema {
  const columns = new Set<string>([idColumn]);
  for (const m of metadata) for (const key of Object.keys(m)) columns.add(key);
  const sample =
    metadata.length > 5000
      ? metadata.filter((_, i) => i % Math.ceil(metadata.length / 5000) === 0)
      : metadata;
  return detectSchema([...columns], sample, { idColumn });
}
