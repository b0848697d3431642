# regcred's image for people with a container engine: the same layout as `make image`
# (which needs none): /regcred-controller (entrypoint) and /kubectl-regcred, static,
# running as 65532:65532.
#
#   docker build --build-arg VERSION=v0.1.0 -t regcred-controller:v0.1.0 .
#   docker buildx build --platform linux/amd64,linux/arm64 -t REGISTRY/regcred-controller:v0.1.0 --push .

FROM --platform=$BUILDPLATFORM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG TARGETOS=linux
ARG TARGETARCH
ARG VERSION=""
RUN CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH \
    go build -trimpath \
      -ldflags "-s -w -X github.com/regcred/regcred/internal/buildinfo.version=${VERSION}" \
      -o /out/ ./cmd/regcred-controller ./cmd/kubectl-regcred

FROM gcr.io/distroless/static:nonroot
COPY --from=build /out/regcred-controller /out/kubectl-regcred /
USER 65532:65532
ENTRYPOINT ["/regcred-controller"]
