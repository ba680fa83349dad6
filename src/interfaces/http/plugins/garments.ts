/** POST /api/garments: the separate items in an uploaded photo, to search each one alone. */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { findGarments } from '../../../images/garments.js';
import { nameGarmentKinds } from '../../../recommend/garment-kinds.js';
import type { Recommender } from '../../../recommend/recommender.js';
import { ApiError } from '../api/api-error.js';
import { IMAGE_FIELD, MAX_UPLOAD_BYTES } from '../api/contract.js';
import { quote } from '../api/echo.js';
import { garmentJson } from '../api/present.js';
import { errorResponses, garmentsZ } from '../api/schemas.js';
import type { UploadLimiter } from '../api/upload-limiter.js';
import { readImageUpload, receiveThenRun } from './uploads.js';

export interface GarmentRoutesOptions {
  /** Names each item's kind, where its similarity has a classifier. */
  recommender: Recommender;
  limiter: UploadLimiter;
  /** Largest accepted photo in bytes (default MAX_UPLOAD_BYTES). */
  maxBytes?: number;
}

export const garmentRoutes: FastifyPluginAsyncZod<GarmentRoutesOptions> = async (
  app,
  { recommender, limiter, maxBytes = MAX_UPLOAD_BYTES },
) => {
  app.post(
    '/api/garments',
    {
      config: {
        multipartBody: z.object({
          [IMAGE_FIELD]: z.file().describe('The photo, as for POST /api/recommend.'),
        }),
      },
      schema: {
        tags: ['search'],
        summary: 'Separate items in a photo',
        description:
          'Upload one photo (multipart field `image`, the limits of POST /api/recommend). The answer lists the separate items ' +
          'found in it (boxes in fractions of the photo as displayed, after EXIF orientation), most salient first: ' +
          'crop to a box and search it with POST /api/recommend. Found from the pixels alone (a foreground and its ' +
          'connected regions): items with background between them, not overlapping ones. ' +
          "With the learned similarity, each of several items has its `kind` (the classifier's guess for its crop) where it is confident. " +
          'Errors: as POST /api/recommend.',
        response: { 200: garmentsZ, ...errorResponses },
      },
    },
    async (request, reply) =>
      // Decoding takes a turn, as a search does.
      receiveThenRun(
        request,
        reply,
        { limiter, maxBytes },
        async (read) => {
          const upload = await readImageUpload(request, read);
          const [extra] = upload.fields.keys();
          if (extra !== undefined) {
            throw new ApiError(
              400,
              'bad-field',
              `unknown form field ${quote(extra)}; expected ${IMAGE_FIELD}`,
            );
          }
          return upload;
        },
        async (upload) => {
          // An unreadable photo is refused as POST /api/recommend refuses it (ImageError).
          const garments = await findGarments(upload.data);
          // Their kinds (one embedding each), where there is more than one to tell apart.
          const named =
            garments.length > 1 ? await nameGarmentKinds(recommender, upload.data, garments) : garments;
          return { garments: named.map(garmentJson) };
        },
      ),
  );
};
