# regcred. `make demo` and `make test` are all a fresh machine needs: Go modules come
# through the module proxy, Kubernetes binaries are built once into ~/.cache/regcred,
# Debian packages for the local cluster are installed by its harness when missing.

GO            ?= go
STATICCHECK   ?= honnef.co/go/tools/cmd/staticcheck@v0.8.2
K8S_BINS       = $(shell hack/k8s-bins.sh)
TEST_FLAGS    ?=
E2E_FLAGS     ?=
DEMO_FLAGS    ?=

.PHONY: all build generate k8s-bins test e2e demo bench lint clean

all: lint build test

## build: the kubectl plugin and the controller, into bin/
build:
	$(GO) build -o bin/ ./cmd/...

## generate: deep-copy code and the CRD from api/v1alpha1, with the pinned controller-gen
generate:
	cd hack/tools/controller-gen && $(GO) build -o ../../../bin/controller-gen sigs.k8s.io/controller-tools/cmd/controller-gen
	bin/controller-gen object paths=./api/... crd output:crd:dir=./config/crd/bases

## k8s-bins: build (once) the pinned kube-apiserver, kubelet, controller manager, scheduler and etcd
k8s-bins:
	@hack/k8s-bins.sh

## test: unit tests and integration tests against a real kube-apiserver and etcd and real registries
test:
	REGCRED_K8S_BIN_DIR=$(K8S_BINS) $(GO) test -count=1 $(TEST_FLAGS) ./...

## e2e: end-to-end suites on a real local cluster (root; one cluster at a time, so -p 1)
e2e:
	REGCRED_K8S_BIN_DIR=$(K8S_BINS) $(GO) test -tags e2e -count=1 -p 1 -timeout 40m $(E2E_FLAGS) ./test/cluster/ ./test/e2e/ ./test/e2enodes/

## demo: start a local cluster with broken and healthy workloads; Ctrl-C stops it
demo:
	$(GO) build -o bin/regcred-demo ./test/demo
	REGCRED_K8S_BIN_DIR=$(K8S_BINS) bin/regcred-demo $(DEMO_FLAGS)

## bench: benchmarks, with allocations
bench:
	REGCRED_K8S_BIN_DIR=$(K8S_BINS) $(GO) test -count=1 -run '^$$' -bench . -benchmem ./...

## lint: gofmt, go vet (with and without the e2e tag), staticcheck
lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) vet -tags e2e ./...
	$(GO) run $(STATICCHECK) ./...
	$(GO) run $(STATICCHECK) -tags e2e ./...

clean:
	rm -rf bin/
