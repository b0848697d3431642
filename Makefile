# regcred. `make demo` and `make test` are all a fresh machine needs: Go modules come
# through the module proxy, Kubernetes binaries are built once into ~/.cache/regcred,
# Debian packages for the local cluster are installed by its harness when missing.

GO            ?= go
STATICCHECK   ?= honnef.co/go/tools/cmd/staticcheck@v0.8.2
K8S_BINS       = $(shell hack/k8s-bins.sh)
HELM           = $(shell hack/helm.sh)
VERSION       ?=
IMAGE_OUT     ?=
IMAGE_PUSH    ?=
TEST_FLAGS    ?=
E2E_FLAGS     ?=
DEMO_FLAGS    ?=
# The version stamped into `make build` (a git worktree gives the go command no VCS
# information) and, when VERSION is unset, the release's: v0.0.0-dev.g<commit>.
GIT_REVISION   = $(shell git rev-parse --short=12 HEAD 2>/dev/null)
BUILD_VERSION  = $(or $(VERSION),$(shell git describe --tags --match 'v*' --always --dirty --abbrev=12 2>/dev/null))
RELEASE_VERSION = $(or $(VERSION),v0.0.0-dev.g$(GIT_REVISION))
DIST          ?= dist

.PHONY: all build generate k8s-bins helm image test e2e demo bench lint release clean

all: lint build test

## build: the kubectl plugin and the controller, into bin/
build:
	$(GO) build $(if $(BUILD_VERSION),-ldflags "-X github.com/regcred/regcred/internal/buildinfo.version=$(BUILD_VERSION)") -o bin/ ./cmd/...

## generate: deep-copy code and the CRD from api/v1alpha1, with the pinned controller-gen; the CRD copied into the chart
generate:
	cd hack/tools/controller-gen && $(GO) build -o ../../../bin/controller-gen sigs.k8s.io/controller-tools/cmd/controller-gen
	bin/controller-gen object paths=./api/... crd output:crd:dir=./config/crd/bases
	rm -f charts/regcred/crds/*.yaml && cp config/crd/bases/*.yaml charts/regcred/crds/

## k8s-bins: build (once) the pinned kube-apiserver, kubelet, controller manager, scheduler and etcd
k8s-bins:
	@hack/k8s-bins.sh

## helm: build (once) the pinned helm from hack/tools/helm, into bin/helm
helm:
	@mkdir -p bin && cp "$(HELM)" bin/helm

## image: the controller's image without a container engine: IMAGE_PUSH=REF pushes it, IMAGE_OUT=file.tar (default bin/regcred-image.tar when not pushing) writes it; VERSION=vX.Y.Z stamps it
image:
	@mkdir -p bin
	$(GO) run ./hack/image $(if $(IMAGE_OUT),-o $(IMAGE_OUT),$(if $(IMAGE_PUSH),,-o bin/regcred-image.tar)) $(if $(IMAGE_PUSH),--push $(IMAGE_PUSH)) $(if $(VERSION),--version $(VERSION))

## test: unit tests and integration tests against a real kube-apiserver and etcd and real registries; the keyring differential test against the pinned kubelet code
test:
	REGCRED_K8S_BIN_DIR=$(K8S_BINS) REGCRED_HELM=$(HELM) $(GO) test -count=1 $(TEST_FLAGS) ./...
	cd hack/tools/k8s && $(GO) test -count=1 ./...   # regcred's keyring against the kubelet's own code

## e2e: end-to-end suites on a real local cluster (root; one cluster at a time, so -p 1)
e2e:
	REGCRED_K8S_BIN_DIR=$(K8S_BINS) REGCRED_HELM=$(HELM) $(GO) test -tags e2e -count=1 -p 1 -timeout 40m $(E2E_FLAGS) ./test/cluster/ ./test/e2e/ ./test/e2enodes/

## demo: start a local cluster with broken and healthy workloads; Ctrl-C stops it
demo:
	$(GO) build -o bin/regcred-demo ./test/demo
	REGCRED_K8S_BIN_DIR=$(K8S_BINS) bin/regcred-demo $(DEMO_FLAGS)

## bench: benchmarks, with allocations (seeding the 50,000-pod cluster of BenchmarkDoctorAllNamespaces takes minutes)
bench:
	REGCRED_K8S_BIN_DIR=$(K8S_BINS) $(GO) test -count=1 -run '^$$' -bench . -benchmem -timeout 60m ./...

## lint: gofmt, go vet (with and without the e2e tag), staticcheck
lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	@$(GO) mod tidy -diff >/dev/null || { echo "go.mod is not tidy: run go mod tidy"; $(GO) mod tidy -diff; exit 1; }
	$(GO) vet ./...
	$(GO) vet -tags e2e ./...
	$(GO) run $(STATICCHECK) ./...
	$(GO) run $(STATICCHECK) -tags e2e ./...

## release: kubectl-regcred archives for linux, darwin and windows on amd64 and arm64, SHA256SUMS and the krew manifest, into $(DIST)/, checked with krew's validator and installer (VERSION=vX.Y.Z)
release:
	$(GO) run ./hack/release --version $(RELEASE_VERSION) --out $(DIST)
	"$$(hack/krew.sh)/check" $(DIST)/regcred.yaml

clean:
	rm -rf bin/ $(DIST)/
