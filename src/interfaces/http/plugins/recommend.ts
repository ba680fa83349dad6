/** POST /api/recommend: the products most similar to an uploaded photo. */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { type PhotoLayout, photoLayout } from '../../../images/garments.js';
import { nameGarmentKinds } from '../../../recommend/garment-kinds.js';
import type { QueryStore } from '../../../recommend/query-store.js';
import type { Recommender } from '../../../recommend/recommender.js';
import { MAX_UPLOAD_BYTES } from '../api/contract.js';
import { facetsJson, filterParameters, resultsJson } from '../api/present.js';
import { errorResponses, recommendFormZ, resultsZ, searchQueryZ } from '../api/schemas.js';
import { mergeFormFields, searchPage } from '../api/search-options.js';
import type { UploadLimiter } from '../api/upload-limiter.js';
import { readImageUpload, receiveThenRun } from './uploads.js';

export interface RecommendRoutesOptions {
  recommender: Recommender;
  limiter: UploadLimiter;
  /** Where uploaded photos' queries are kept for GET /api/queries/:queryId. */
  queries: QueryStore;
  /** Largest accepted photo in bytes (default MAX_UPLOAD_BYTES). */
  maxBytes?: number;
}

export const recommendRoutes: FastifyPluginAsyncZod<RecommendRoutesOptions> = async (
  app,
  { recommender, limiter, queries, maxBytes = MAX_UPLOAD_BYTES },
) => {
  const filters = filterParameters(facetsJson(recommender));

  app.post(
    '/api/recommend',
    {
      config: { multipartBody: recommendFormZ(filters) },
      schema: {
        tags: ['search'],
        summary: 'Products that look like a photo',
        description:
          'Upload one photo (multipart field `image`); `k` and filters may be form fields or query parameters. ' +
          "The filters are the catalogue's facets (see /api/facets). " +
          'A catalogue photo is recognised by its bytes: that product is left out of the results (`query.excluded`). ' +
          '`offset` pages through the results (ranks offset+1 to offset+k; `page.hasMore` says whether there are more). ' +
          'The answer carries a `queryId`: GET /api/queries/{queryId} runs the same search again with other filters or pages, ' +
          'without the photo, for 30 minutes after its last use. Each result has a `match` strength calibrated on the catalogue; ' +
          '`query.garments` lists the separate items found when the photo seems to hold several (search each by cropping to its box). ' +
          'The whole photo must arrive within a minute, and not much slower than 2 KB a second. ' +
          'Errors: 400 bad field/filter or no photo, 408 the photo arrived too slowly, 413 photo over 20 MiB or 100 megapixels, ' +
          '415 not an image or an unsupported format, 422 damaged photo or one too costly to decode, ' +
          '503 too many uploads at once (see Retry-After).',
        querystring: searchQueryZ(filters),
        response: { 200: resultsZ, ...errorResponses },
      },
    },
    async (request, reply) =>
      // The whole photo arrives first; only then does it queue for the model (receiveThenRun).
      receiveThenRun(
        request,
        reply,
        { limiter, maxBytes },
        async (read) => {
          const upload = await readImageUpload(request, read);
          return { upload, search: mergeFormFields(request.query, upload.fields, filters) };
        },
        async ({ upload, search }) => {
          // Separate items, and whether it is a shopper's own photo (a few ms), for photos not the
          // catalogue's own: worked out on libuv's threads while the photo is embedded and searched.
          const layoutWork = recommender.recognises(upload.data)
            ? undefined
            : photoLayout(upload.data).catch(() => undefined);
          // Filters are checked before the query is kept: a refused search leaves nothing behind.
          const { result, page } = await searchPage(search, (options) =>
            recommender.recommend({ data: upload.data, label: upload.filename }, options),
          );
          const { resolved } = result;
          const layout: PhotoLayout = resolved.query.recognisedAs
            ? { garments: [], studio: true }
            : ((await layoutWork) ?? { garments: [], studio: resolved.studio ?? true });
          const stored = {
            ...resolved,
            studio: resolved.studio ?? layout.studio,
            ...(layout.garments.length > 1
              ? { garments: await nameGarmentKinds(recommender, upload.data, layout.garments) }
              : {}),
          };
          const queryId = queries.put(stored);
          return resultsJson(result, {
            similarity: recommender.manifest.similarity,
            shopperPhoto: stored.studio === false,
            page,
            queryId,
            garments: stored.garments,
          });
        },
      ),
  );
};
