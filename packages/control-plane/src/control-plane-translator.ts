// The seam between the control-plane process and translation (model → xDS per client view, plus
// the consistency check run before a snapshot is served). DESIGN.md "xDS conventions".
import type { MeshModel } from './config/mesh-model.js';
import type { ClientView, TranslationNote, XdsResourceSet } from './contracts.js';
import { checkConsistent } from './translate/check-consistent.js';
import { translateMesh } from './translate/translate-mesh.js';

/** Turns a model into xDS resources for a view, and checks a result for consistency. */
export interface MeshTranslator {
  /** MUST be pure: called once per client view on every accepted config. */
  translate(
    model: MeshModel,
    view: ClientView,
  ): { readonly resources: XdsResourceSet; readonly notes: readonly TranslationNote[] };
  /** Dangling RDS/EDS names and the like; empty = consistent (go-control-plane's `Consistent()`). */
  check(resources: XdsResourceSet): readonly string[];
}

/** The built-in translator: `translateMesh` and `checkConsistent` from src/translate. */
export const defaultMeshTranslator: MeshTranslator = Object.freeze({
  translate: translateMesh,
  check: checkConsistent,
});
