package cluster

import (
	"fmt"
	"path/filepath"

	"github.com/regcred/regcred/test/pki"
)

// kubeletConfig writes the KubeletConfiguration with the settings local-cluster.md
// found necessary on this machine kind (cgroup v1, no systemd, no eviction).
func kubeletConfig(dir, nodeIP, runtimeSocket string, port, healthzPort int) (string, error) {
	cfg := fmt.Sprintf(`apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: %s
port: %d
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: %d
authentication:
  anonymous:
    enabled: true
  webhook:
    enabled: false
authorization:
  mode: AlwaysAllow
containerRuntimeEndpoint: unix://%s
cgroupDriver: cgroupfs
cgroupsPerQOS: false
enforceNodeAllocatable: []
failCgroupV1: false
failSwapOn: false
localStorageCapacityIsolation: false
evictionHard: {}
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
serializeImagePulls: false
registerNode: true
resolvConf: ""
nodeStatusUpdateFrequency: 5s
syncFrequency: 10s
fileCheckFrequency: 10s
podLogsDir: %s
`, nodeIP, port, healthzPort, runtimeSocket, filepath.Join(dir, "pod-logs"))
	path := filepath.Join(dir, "kubelet.yaml")
	return path, pki.WriteFile(path, []byte(cfg))
}
