export {
  ApiRoute,
  apiError,
  apiErrorBody,
  apiRouteOf,
  declaredRoutes,
  isoTime,
  ok,
  API_ROUTE_KEY,
} from './api-route';
export type { ApiError, ApiResponse, ApiRouteSpec, DeclaredRoute } from './api-route';
export { buildOpenApiDocument, documentedRoute, documentedRoutes } from './openapi-document';
export type { DocumentedRoute, OpenApiDocument } from './openapi-document';
export { OpenApiController } from './openapi.controller';
