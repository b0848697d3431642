package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/kubernetes"

	"github.com/regcred/regcred/api/v1alpha1"
	"github.com/regcred/regcred/internal/dockercfg"
	"github.com/regcred/regcred/internal/pullsecret"
	"github.com/regcred/regcred/internal/serviceaccount"
	"github.com/regcred/regcred/internal/verify"
)

// CreateOptions are the options of `kubectl regcred create`.
type CreateOptions struct {
	Name          string
	Server        string
	Username      string
	Email         string
	Password      string
	PasswordStdin bool
	PasswordFile  string

	FromDockerConfig    string
	fromDockerConfigSet bool
	Registries          []string

	Namespaces    []string
	AllNamespaces bool
	Attach        []string
	DryRun        string
	Output        string
	NoVerify      bool
	Overwrite     bool
	registryFlags registryFlags

	flags      *genericclioptions.ConfigFlags
	client     kubernetes.Interface
	namespaces []string
	servers    []dockercfg.Server
	dryRun     dryRunMode
	genericiooptions.IOStreams
}

const defaultDockerConfig = "~/.docker/config.json"

// NewCmdCreate returns `kubectl regcred create`.
func NewCmdCreate(flags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	o := &CreateOptions{flags: flags, IOStreams: streams}
	cmd := &cobra.Command{
		Use:   "create NAME (--server S --username U (--password-stdin | --password-file F) | --from-docker-config [PATH] --registry HOST...)",
		Short: "Create a pull Secret the kubelet can use, after checking it against the registry",
		Long: `Create a kubernetes.io/dockerconfigjson Secret with an auth field, written under the
key the kubelet matches. Before saving, the credential is checked against the registry
(--no-verify skips that); a credential the registry rejects is not saved.

With --from-docker-config, only the named registries are taken from a docker config
(credential helpers are asked for theirs); entries without a usable username and
password, identity tokens included, are refused with the reason.`,
		Example: `  # Read the password from stdin, create in two namespaces, attach to their default ServiceAccount
  printf '%s' "$TOKEN" | kubectl regcred create regcred --server reg.example.com:5000 \
      --username robot --password-stdin --namespaces team-a,team-b --attach default

  # Take one registry out of your docker login
  kubectl regcred create ghcr --from-docker-config --registry ghcr.io -n apps

  # A manifest for GitOps, nothing written to the cluster
  kubectl regcred create regcred --server reg.example.com --username u --password-file pw.txt \
      --dry-run=client -o yaml`,
		RunE: func(cmd *cobra.Command, args []string) error {
			o.fromDockerConfigSet = cmd.Flags().Changed("from-docker-config")
			if err := o.Complete(cmd.Context(), args); err != nil {
				return err
			}
			if err := o.Validate(); err != nil {
				return err
			}
			return o.Run(cmd.Context())
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Server, "server", "", "registry host[:port][/path], e.g. reg.example.com:5000 (docker.io for Docker Hub)")
	f.StringVar(&o.Username, "username", "", "registry user")
	f.StringVar(&o.Email, "email", "", "email (optional; registries ignore it)")
	f.BoolVar(&o.PasswordStdin, "password-stdin", false, "read the password from standard input")
	f.StringVar(&o.PasswordFile, "password-file", "", "read the password from this file")
	f.StringVar(&o.Password, "password", "", "the password on the command line (insecure: it stays in shell history and process lists)")
	f.StringVar(&o.FromDockerConfig, "from-docker-config", "", "take credentials from a docker config (default "+defaultDockerConfig+")")
	f.Lookup("from-docker-config").NoOptDefVal = defaultDockerConfig
	f.StringArrayVar(&o.Registries, "registry", nil, "with --from-docker-config: a registry to take (repeat for several)")
	f.StringSliceVar(&o.Namespaces, "namespaces", nil, "create in these namespaces (comma-separated)")
	f.BoolVarP(&o.AllNamespaces, "all-namespaces", "A", false, "create in every namespace")
	f.StringSliceVar(&o.Attach, "attach", nil, "attach to these ServiceAccounts in each namespace (comma-separated)")
	f.StringVar(&o.DryRun, "dry-run", "none", "none, client (print only) or server (validated by the API server, not stored)")
	f.StringVarP(&o.Output, "output", "o", "", "print the Secrets as json or yaml (they contain the credential, base64-encoded)")
	f.BoolVar(&o.NoVerify, "no-verify", false, "save without checking the credential against the registry")
	f.BoolVar(&o.Overwrite, "overwrite", false, "replace the credentials of an existing pull Secret of the same name")
	o.registryFlags.add(f)
	return cmd
}

// Complete reads the arguments, the password and the docker config, and resolves the
// namespaces.
func (o *CreateOptions) Complete(ctx context.Context, args []string) error {
	if o.fromDockerConfigSet && o.FromDockerConfig == defaultDockerConfig && len(args) == 2 {
		// --from-docker-config PATH: pflag reads an optional value only after "=",
		// so the path is one of the two arguments: the one that is a file.
		path, name := args[1], args[0]
		if isFile(args[0]) && !isFile(args[1]) {
			path, name = args[0], args[1]
		}
		o.FromDockerConfig, args = path, []string{name}
	}
	if len(args) != 1 {
		return fmt.Errorf("create takes one argument, the Secret's name: kubectl regcred create NAME --server ... (got %d)", len(args))
	}
	o.Name = args[0]
	var err error
	if o.dryRun, err = parseDryRun(o.DryRun); err != nil {
		return err
	}
	if err := o.validateFlags(); err != nil {
		return err
	}
	if o.fromDockerConfigSet {
		if o.servers, err = fromDockerConfig(ctx, o.FromDockerConfig, o.Registries); err != nil {
			return err
		}
	} else {
		key, err := dockercfg.KeyFor(o.Server)
		if err != nil {
			return fmt.Errorf("--server: %w", err)
		}
		password, err := o.readPassword()
		if err != nil {
			return err
		}
		o.servers = []dockercfg.Server{{Key: key, Credential: dockercfg.Credential{Username: o.Username, Password: password, Email: o.Email}}}
	}
	ns, _, err := o.flags.ToRawKubeConfigLoader().Namespace()
	if err != nil {
		return fmt.Errorf("read namespace from kubeconfig: %w", err)
	}
	if o.dryRun != dryRunClient || o.AllNamespaces {
		// A client dry run needs the cluster only to list namespaces.
		if o.client, _, err = clientFor(o.flags); err != nil {
			return err
		}
	}
	switch {
	case o.AllNamespaces:
		if o.namespaces, err = allNamespaces(ctx, o.client); err != nil {
			return err
		}
	case len(o.Namespaces) > 0:
		o.namespaces = splitList(o.Namespaces)
	default:
		o.namespaces = []string{ns}
	}
	o.Attach = splitList(o.Attach)
	return nil
}

func (o *CreateOptions) validateFlags() error {
	nsSet := 0
	for _, set := range []bool{o.AllNamespaces, len(o.Namespaces) > 0, o.flags.Namespace != nil && *o.flags.Namespace != ""} {
		if set {
			nsSet++
		}
	}
	if nsSet > 1 {
		return fmt.Errorf("-n, --namespaces and -A choose the namespaces in different ways: use one")
	}
	if o.fromDockerConfigSet {
		if o.Server != "" || o.Username != "" || o.PasswordStdin || o.PasswordFile != "" || o.Password != "" {
			return fmt.Errorf("--from-docker-config takes credentials from the file: drop --server, --username and the password flags")
		}
		if len(o.Registries) == 0 {
			return fmt.Errorf("--from-docker-config needs --registry HOST for each registry to take: copying the whole file would leak every registry you are logged into")
		}
		return nil
	}
	if len(o.Registries) > 0 {
		return fmt.Errorf("--registry goes with --from-docker-config; for one registry use --server")
	}
	if o.Server == "" || o.Username == "" {
		return fmt.Errorf("--server and --username are required (or --from-docker-config with --registry)")
	}
	if strings.Contains(o.Username, ":") {
		return fmt.Errorf("--username %q contains ':': the kubelet splits auth at the first ':', so the registry would get another user", o.Username)
	}
	sources := 0
	for _, set := range []bool{o.PasswordStdin, o.PasswordFile != "", o.Password != ""} {
		if set {
			sources++
		}
	}
	if sources != 1 {
		return fmt.Errorf("give the password one way: --password-stdin or --password-file FILE")
	}
	return nil
}

func (o *CreateOptions) readPassword() (string, error) {
	var raw []byte
	var err error
	switch {
	case o.Password != "":
		fmt.Fprintln(o.ErrOut, "WARNING! Using --password via the CLI is insecure. Use --password-stdin.")
		return o.Password, nil
	case o.PasswordStdin:
		if raw, err = io.ReadAll(o.In); err != nil {
			return "", fmt.Errorf("read password from stdin: %w", err)
		}
	default:
		if raw, err = os.ReadFile(o.PasswordFile); err != nil {
			return "", fmt.Errorf("--password-file: %w", err)
		}
	}
	pw := strings.TrimSuffix(strings.TrimSuffix(string(raw), "\n"), "\r")
	if pw == "" {
		return "", fmt.Errorf("the password is empty: pipe it in with printf '%%s' \"$PASSWORD\" | ... --password-stdin")
	}
	return pw, nil
}

// Validate checks what Complete gathered.
func (o *CreateOptions) Validate() error {
	if errs := validateSecretName(o.Name); errs != "" {
		return fmt.Errorf("secret name %q: %s", o.Name, errs)
	}
	switch o.Output {
	case "", "json", "yaml", "name":
	default:
		return fmt.Errorf("--output %q: use json, yaml or name", o.Output)
	}
	if len(o.namespaces) == 0 {
		return fmt.Errorf("no namespace to create the Secret in")
	}
	return nil
}

// Run verifies the credentials, checks every namespace, then writes.
func (o *CreateOptions) Run(ctx context.Context) error {
	if !o.NoVerify {
		checker, err := o.registryFlags.checker()
		if err != nil {
			return err
		}
		for _, s := range o.servers {
			res := checker.Login(ctx, dockercfg.LoginHost(s.Key), s.Credential)
			if !res.Outcome.Pullable() {
				return failed("not saved: %s: %s: %s (%s)", res.Registry, res.Outcome, res.Detail, loginHint(res.Outcome))
			}
			fmt.Fprintf(o.ErrOut, "verified: %s\n", res.Detail)
		}
	}
	data, err := dockercfg.Marshal(o.servers...)
	if err != nil {
		return err
	}
	if o.dryRun == dryRunClient {
		return o.printClientDryRun(data)
	}
	// Check every namespace before writing anything: all or nothing.
	existing := map[string]*corev1.Secret{}
	for _, ns := range o.namespaces {
		n, err := o.client.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
		if err != nil {
			return fmt.Errorf("namespace %s: %w", ns, err)
		}
		if n.Status.Phase == corev1.NamespaceTerminating {
			return fmt.Errorf("namespace %s is being deleted: leave it out", ns)
		}
		s, err := o.client.CoreV1().Secrets(ns).Get(ctx, o.Name, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
		case err != nil:
			return fmt.Errorf("get secret %s/%s: %w", ns, o.Name, err)
		case s.Type != corev1.SecretTypeDockerConfigJson && s.Type != corev1.SecretTypeDockercfg:
			return fmt.Errorf("secret %s/%s exists with type %q: regcred never changes a Secret of another type; pick another name or delete it", ns, o.Name, typeOf(s))
		case pullsecret.Owner(s) != "":
			return fmt.Errorf("secret %s/%s is a copy that ClusterPullSecret %s keeps: regcred-controller would undo any change; change its source instead (%s)", ns, o.Name, pullsecret.Owner(s), copySource(s))
		case !o.Overwrite:
			return fmt.Errorf("secret %s/%s already exists: add --overwrite to replace its credentials", ns, o.Name)
		case s.Type != corev1.SecretTypeDockerConfigJson:
			return fmt.Errorf("secret %s/%s has type %s and a Secret's type cannot change: delete it first, then create", ns, o.Name, s.Type)
		case s.Immutable != nil && *s.Immutable:
			return fmt.Errorf("secret %s/%s is immutable: delete it first, then create", ns, o.Name)
		default:
			existing[ns] = s
		}
		for _, sa := range o.Attach {
			if _, err := o.client.CoreV1().ServiceAccounts(ns).Get(ctx, sa, metav1.GetOptions{}); err != nil {
				return fmt.Errorf("--attach %s: serviceaccount %s/%s: %w", sa, ns, sa, err)
			}
		}
	}
	var written []*corev1.Secret
	for _, ns := range o.namespaces {
		s, verb, err := o.write(ctx, ns, data, existing[ns])
		if err != nil {
			return err
		}
		written = append(written, s)
		if o.Output == "" {
			fmt.Fprintf(o.Out, "secret/%s %s in %s%s\n", o.Name, verb, ns, o.dryRun.suffix())
		}
		for _, sa := range o.Attach {
			changed, err := serviceaccount.Attach(ctx, o.client, ns, sa, o.Name, o.dryRun.serverDryRun())
			if err != nil {
				return err
			}
			if o.Output == "" {
				fmt.Fprintf(o.Out, "serviceaccount/%s in %s %s%s\n", sa, ns, attachVerb(changed, "attached"), o.dryRun.suffix())
			}
		}
	}
	if o.Output != "" {
		return printObjects(o.Out, o.Output, written)
	}
	return nil
}

func (o *CreateOptions) write(ctx context.Context, ns string, data []byte, old *corev1.Secret) (*corev1.Secret, string, error) {
	if old != nil {
		s := old.DeepCopy()
		s.Type = corev1.SecretTypeDockerConfigJson
		s.Data = map[string][]byte{corev1.DockerConfigJsonKey: data}
		out, err := o.client.CoreV1().Secrets(ns).Update(ctx, s, metav1.UpdateOptions{DryRun: o.dryRun.serverDryRun(), FieldManager: "kubectl-regcred"})
		if err != nil {
			return nil, "", fmt.Errorf("update secret %s/%s: %w", ns, o.Name, err)
		}
		return out, "configured", nil
	}
	s := newPullSecret(ns, o.Name, data)
	out, err := o.client.CoreV1().Secrets(ns).Create(ctx, s, metav1.CreateOptions{DryRun: o.dryRun.serverDryRun(), FieldManager: "kubectl-regcred"})
	if err != nil {
		return nil, "", fmt.Errorf("create secret %s/%s: %w", ns, o.Name, err)
	}
	return out, "created", nil
}

// printClientDryRun prints what would be created, without asking the cluster.
func (o *CreateOptions) printClientDryRun(data []byte) error {
	var secrets []*corev1.Secret
	for _, ns := range o.namespaces {
		secrets = append(secrets, newPullSecret(ns, o.Name, data))
		if o.Output == "" {
			fmt.Fprintf(o.Out, "secret/%s created in %s%s\n", o.Name, ns, o.dryRun.suffix())
			for _, sa := range o.Attach {
				fmt.Fprintf(o.Out, "serviceaccount/%s in %s attached%s\n", sa, ns, o.dryRun.suffix())
			}
		}
	}
	if o.Output != "" {
		return printObjects(o.Out, o.Output, secrets)
	}
	return nil
}

func newPullSecret(ns, name string, data []byte) *corev1.Secret {
	return &corev1.Secret{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Type:       corev1.SecretTypeDockerConfigJson,
		Data:       map[string][]byte{corev1.DockerConfigJsonKey: data},
	}
}

// loginHint says what to do about a failed login.
func loginHint(o verify.Outcome) string {
	switch o {
	case verify.RegistryTLSError:
		return "give the registry's CA with --ca-file, or save anyway with --no-verify"
	case verify.RegistryHTTPOnly:
		return "allow it with --plain-http if the nodes are configured for this insecure registry"
	case verify.RegistryUnreachable:
		return "check the --server name and this machine's network, or save anyway with --no-verify"
	case verify.RateLimited:
		return "try again later, or save anyway with --no-verify"
	default:
		return "fix the credential, or save it anyway with --no-verify"
	}
}

func isFile(path string) bool {
	st, err := os.Stat(path)
	return err == nil && st.Mode().IsRegular()
}

func attachVerb(changed bool, verb string) string {
	if changed {
		return verb
	}
	return "unchanged"
}

func typeOf(s *corev1.Secret) corev1.SecretType {
	if s.Type == "" {
		return corev1.SecretTypeOpaque
	}
	return s.Type
}

// copySource names the source of a regcred copy, as its annotation records it.
func copySource(s *corev1.Secret) string {
	if src := s.Annotations[v1alpha1.AnnotationSource]; src != "" {
		ns, name, _ := strings.Cut(src, "/")
		return fmt.Sprintf("kubectl regcred create %s -n %s ... --overwrite", name, ns)
	}
	return fmt.Sprintf("kubectl get clusterpullsecret %s -o jsonpath='{.spec.source.secretRef}' names it", pullsecret.Owner(s))
}
