// Package dockercfg reads and writes docker configs the way the kubelet reads them.
//
// Two Secret shapes carry pull credentials: type kubernetes.io/dockerconfigjson with
// key .dockerconfigjson, which holds {"auths": {"<registry>": {...}}}, and type
// kubernetes.io/dockercfg with key .dockercfg, which holds the bare map
// {"<registry>": {...}}. The kubelet reads username, password and email of each entry;
// a non-empty auth (base64 of user:password) overrides the first two, and an auth it
// cannot decode makes the whole Secret fail. identitytoken and registrytoken are
// ignored. Docker CLI files (~/.docker/config.json) add credsStore and credHelpers,
// which name a docker-credential-<helper> program that holds the secret instead.
//
// Parse and FromSecret follow the kubelet exactly and report what it would trip over
// with the position in the input. Credentials never print their password.
package dockercfg
