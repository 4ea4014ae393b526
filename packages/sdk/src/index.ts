// @weft/sdk: the in-process data plane. Empty until the "SDK data plane" issue lands; it exists so
// the workspace graph and the dependency arrows (sdk → xds-client) are in place.
export { createRegistrar } from './registration/create-registrar.js';
export type {
  Registrar,
  RegistrarOptions,
  RegistrarNode,
  Registration,
  RegistrationEndpoint,
  RegistrationLocality,
} from './registration/registration-types.js';
