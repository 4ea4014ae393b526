// @weft/sidecar-lite: `weft sidecar` for workloads that cannot import the SDK. Empty until the SDK lands.
export {};
