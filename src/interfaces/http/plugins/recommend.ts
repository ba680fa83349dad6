/** POST /api/recommend: the products most similar to an uploaded photo. */
import type { FastifyPluginAsync } from 'fastify';
import type { Recommender } from '../../../recommend/recommender.js';
import { ApiError } from '../api-error.js';
import type { ApiResults } from '../contract.js';
import { resultsJson } from '../present.js';
import { errorResponses, recommendBodySchema, searchQuerySchema } from '../schemas.js';
import { mergeFormFields, recommendOptions, type SearchQuery } from '../search-options.js';
import type { UploadLimiter } from '../upload-limiter.js';
import { readImageUpload } from './uploads.js';

const clientGone = () =>
  new ApiError(400, 'bad-request', 'the client closed the connection before the upload ended');

export interface RecommendRoutesOptions {
  recommender: Recommender;
  limiter: UploadLimiter;
}

export const recommendRoutes: FastifyPluginAsync<RecommendRoutesOptions> = async (
  app,
  { recommender, limiter },
) => {
  app.post<{ Querystring: SearchQuery; Reply: ApiResults }>(
    '/api/recommend',
    {
      config: { multipartBody: recommendBodySchema },
      schema: {
        tags: ['search'],
        summary: 'Products that look like a photo',
        description:
          'Upload one photo (multipart field `image`); `k` and filters may be form fields or query parameters. ' +
          'A catalogue photo is recognised by its bytes: that product is left out of the results (`query.excluded`). ' +
          'Errors: 400 bad field/filter or no photo, 413 photo over 20 MiB or 100 megapixels, 415 not an image or ' +
          'an unsupported format, 422 damaged photo, 503 too many uploads waiting (see Retry-After).',
        querystring: searchQuerySchema,
        response: { 200: { $ref: 'Results#' }, ...errorResponses },
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
        const options = recommendOptions(mergeFormFields(request.query, upload.fields));
        const result = await recommender.recommend({ data: upload.data, label: upload.filename }, options);
        return resultsJson(result);
      } finally {
        release();
      }
    },
  );
};
