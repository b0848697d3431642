// Package credentialprovider runs kubelet credential provider plugins with the
// credentialprovider.kubelet.k8s.io/v1 exec protocol, as the kubelet does: a
// CredentialProviderRequest on the plugin's stdin, a CredentialProviderResponse on
// its stdout. It turns a response into the .dockerconfigjson of a pull Secret, keeping
// its registry keys (globs included) as the kubelet matches them, and kills a plugin
// that outlives its time limit with every process it started.
package credentialprovider
