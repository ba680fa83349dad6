/** POST /api/recommend: the products most similar to an uploaded photo. */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { Recommender } from '../../../recommend/recommender.js';
import { ApiError } from '../api/api-error.js';
import { facetsJson, filterParameters, resultsJson } from '../api/present.js';
import { errorResponses, recommendFormZ, resultsZ, searchQueryZ } from '../api/schemas.js';
import { mergeFormFields, recommendOptions } from '../api/search-options.js';
import type { UploadLimiter } from '../api/upload-limiter.js';
import { readImageUpload } from './uploads.js';

const clientGone = () =>
  new ApiError(400, 'bad-request', 'the client closed the connection before the upload ended');

export interface RecommendRoutesOptions {
  recommender: Recommender;
  limiter: UploadLimiter;
}

export const recommendRoutes: FastifyPluginAsyncZod<RecommendRoutesOptions> = async (
  app,
  { recommender, limiter },
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
          'Errors: 400 bad field/filter or no photo, 413 photo over 20 MiB or 100 megapixels, 415 not an image or ' +
          'an unsupported format, 422 damaged photo, 503 too many uploads waiting (see Retry-After).',
        querystring: searchQueryZ(filters),
        response: { 200: resultsZ, ...errorResponses },
      },
    },
    async (request) => {
      // A client that hangs up while waiting for its turn gives its place up.
      const gone = new AbortController();
      const onClose = () => {
        if (!request.raw.readableEnded) gone.abort(clientGone());
      };
      request.raw.once('close', onClose);
      const release = await limiter.acquire(gone.signal).finally(() => request.raw.off('close', onClose));
      try {
        const upload = await readImageUpload(request);
        const options = recommendOptions(mergeFormFields(request.query, upload.fields, filters));
        const result = await recommender.recommend({ data: upload.data, label: upload.filename }, options);
        return resultsJson(result);
      } finally {
        release();
      }
    },
  );
};
