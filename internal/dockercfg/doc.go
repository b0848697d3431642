// Package dockercfg reads and writes docker configs the way the kubelet reads them.
//
// Two Secret shapes carry pull credentials: type kubernetes.io/dockerconfigjson with
// key .dockerconfigjson, which holds {"auths": {"<registry>": {...}}}, and type
// kubernetes.io/dockercfg with key .dockercfg, which holds the bare map
// {"<registry>": {...}}. The kubelet reads username, password and email of each entry;
// a non-empty auth (base64 of user:password) overrides the first two. identitytoken,
// registrytoken and other fields are ignored, whatever their type. The whole Secret,
// and with it every pull of the pod, fails on any error of the kubelet's decoding
// (k8s.io/kubernetes/pkg/credentialprovider, v1.37: config.go and secrets/secrets.go):
// an auth that is not base64 or has no colon, an entry that is not an object, one of
// those four fields or "auths" or "HttpHeaders" of the wrong JSON type, a top level
// that is not an object (or null). The API server checks only that the data is a JSON
// object, so all but the last reach the kubelet. Docker CLI files (~/.docker/config.json) add credsStore and credHelpers,
// which name a docker-credential-<helper> program that holds the secret instead.
//
// Parse and FromSecret follow the kubelet exactly and report what it would trip over
// with the position in the input. Credentials never print their password.
package dockercfg
