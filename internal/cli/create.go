package cli

import (
	"context"
	"fmt"
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

	FromDockerConfig string
	Registries       []string

	Namespaces    []string
	AllNamespaces bool
	Attach        []string
	DryRun        string
	NoVerify      bool
	Overwrite     bool
	registryFlags registryFlags
	output        *objectOutput

	flags               *genericclioptions.ConfigFlags
	client              kubernetes.Interface
	fromDockerConfigSet bool
	key                 string   // --server as the key the kubelet matches
	namespaces          []string // -n or --namespaces; with -A, Run lists them
	attach              []string
	dryRun              dryRunMode
	genericiooptions.IOStreams
}

const defaultDockerConfig = "~/.docker/config.json"

// NewCmdCreate returns `kubectl regcred create`.
func NewCmdCreate(flags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	o := &CreateOptions{flags: flags, output: newObjectOutput(), IOStreams: streams}
	cmd := &cobra.Command{
		Use:   "create NAME (--server S --username U (--password-stdin | --password-file F) | --from-docker-config [PATH] --registry HOST...)",
		Short: "Create a pull Secret the kubelet can use, after checking it against the registry",
		Long: `Create a kubernetes.io/dockerconfigjson Secret with an auth field, written under the
key the kubelet matches. Before saving, the credential is checked against the registry
(--no-verify skips that); a credential the registry rejects is not saved.

With --from-docker-config, only the named registries are taken from a docker config
(credential helpers are asked for theirs); entries without a usable username and
password, identity tokens included, are refused with the reason.

Over several namespaces (and with --attach), every write is undone when one of them
fails, and the command exits non-zero.`,
		Example: `  # Read the password from stdin, create in two namespaces, attach to their default ServiceAccount
  printf '%s' "$TOKEN" | kubectl regcred create regcred --server reg.example.com:5000 \
      --username robot --password-stdin --namespaces team-a,team-b --attach default

  # Take one registry out of your docker login
  kubectl regcred create ghcr --from-docker-config --registry ghcr.io -n apps

  # A manifest for GitOps, nothing written to the cluster
  kubectl regcred create regcred --server reg.example.com --username u --password-file pw.txt \
      --dry-run=client -o yaml`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.Complete(cmd, args); err != nil {
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
	f.BoolVar(&o.NoVerify, "no-verify", false, "save without checking the credential against the registry")
	f.BoolVar(&o.Overwrite, "overwrite", false, "replace the credentials of an existing pull Secret of the same name")
	o.registryFlags.add(f)
	o.output.addFlags(cmd, "The Secrets printed hold the credential, base64-encoded.")
	return cmd
}

// Complete reads the arguments and resolves the key, the namespaces and the client.
func (o *CreateOptions) Complete(cmd *cobra.Command, args []string) error {
	o.fromDockerConfigSet = cmd.Flags().Changed("from-docker-config")
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
	if err := o.output.complete(); err != nil {
		return err
	}
	if o.Server != "" {
		if o.key, err = dockercfg.KeyFor(o.Server); err != nil {
			return fmt.Errorf("--server: %w", err)
		}
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
	case len(o.Namespaces) > 0:
		o.namespaces = splitList(o.Namespaces)
	case !o.AllNamespaces:
		o.namespaces = []string{ns}
	}
	o.attach = splitList(o.Attach)
	return nil
}

// Validate checks the flags and what Complete resolved; it changes nothing.
func (o *CreateOptions) Validate() error {
	nsSet := 0
	for _, set := range []bool{o.AllNamespaces, len(o.Namespaces) > 0, o.flags.Namespace != nil && *o.flags.Namespace != ""} {
		if set {
			nsSet++
		}
	}
	if nsSet > 1 {
		return fmt.Errorf("-n, --namespaces and -A choose the namespaces in different ways: use one")
	}
	if err := o.validateCredentialFlags(); err != nil {
		return err
	}
	if errs := validateSecretName(o.Name); errs != "" {
		return fmt.Errorf("secret name %q: %s", o.Name, errs)
	}
	if !o.AllNamespaces && len(o.namespaces) == 0 {
		return fmt.Errorf("no namespace to create the Secret in")
	}
	return nil
}

// validateCredentialFlags checks that the credential is given one way.
func (o *CreateOptions) validateCredentialFlags() error {
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

// credentials reads the password, or takes the named registries from the docker config.
func (o *CreateOptions) credentials(ctx context.Context) ([]dockercfg.Server, error) {
	if o.fromDockerConfigSet {
		return fromDockerConfig(ctx, o.FromDockerConfig, o.Registries)
	}
	var password string
	switch {
	case o.Password != "":
		fmt.Fprintln(o.ErrOut, "WARNING! Using --password via the CLI is insecure. Use --password-stdin.")
		password = o.Password
	case o.PasswordStdin:
		pw, err := readPassword(o.In, "stdin")
		if err != nil {
			return nil, err
		}
		password = pw
	default:
		f, err := os.Open(o.PasswordFile)
		if err != nil {
			return nil, fmt.Errorf("--password-file: %w", err)
		}
		defer f.Close()
		if password, err = readPassword(f, "--password-file "+o.PasswordFile); err != nil {
			return nil, err
		}
	}
	return []dockercfg.Server{{Key: o.key, Credential: dockercfg.Credential{Username: o.Username, Password: password, Email: o.Email}}}, nil
}

// Run reads and verifies the credentials, checks every namespace, then writes; when a
// write fails, it undoes the writes before it.
func (o *CreateOptions) Run(ctx context.Context) error {
	servers, err := o.credentials(ctx)
	if err != nil {
		return err
	}
	if !o.NoVerify {
		checker, err := o.registryFlags.checker()
		if err != nil {
			return err
		}
		for _, s := range servers {
			res := checker.Login(ctx, dockercfg.LoginHost(s.Key), s.Credential)
			if !res.Outcome.Pullable() {
				return failed("not saved: %s: %s: %s (%s)", res.Registry, res.Outcome, res.Detail, loginHint(res.Outcome))
			}
			fmt.Fprintf(o.ErrOut, "verified: %s\n", res.Detail)
		}
	}
	data, err := dockercfg.Marshal(servers...)
	if err != nil {
		return err
	}
	namespaces := o.namespaces
	if o.AllNamespaces {
		if namespaces, err = allNamespaces(ctx, o.client); err != nil {
			return err
		}
	}
	if o.dryRun == dryRunClient {
		return o.printClientDryRun(namespaces, data)
	}
	existing, err := o.check(ctx, namespaces)
	if err != nil {
		return err
	}
	undo := &undoLog{client: o.client}
	var written []*corev1.Secret
	for _, ns := range namespaces {
		var s *corev1.Secret
		var verb string
		err := send(ctx, func(ctx context.Context) (err error) {
			s, verb, err = o.write(ctx, ns, data, existing[ns], undo)
			return err
		})
		if err != nil {
			return undo.rollback(ctx, o.ErrOut, err)
		}
		written = append(written, s)
		if !o.output.requested() {
			fmt.Fprintf(o.Out, "secret/%s %s in %s%s\n", o.Name, verb, ns, o.dryRun.suffix())
		}
		for _, sa := range o.attach {
			var e serviceaccount.Edit
			err := send(ctx, func(ctx context.Context) (err error) {
				e, err = serviceaccount.Attach(ctx, o.client, ns, sa, o.Name, o.dryRun.serverDryRun())
				return err
			})
			if err != nil {
				return undo.rollback(ctx, o.ErrOut, fmt.Errorf("--attach %s: %w", sa, err))
			}
			if o.dryRun == dryRunNone {
				undo.edited(e)
			}
			if !o.output.requested() {
				fmt.Fprintf(o.Out, "serviceaccount/%s in %s %s%s\n", sa, ns, attachVerb(e.Changed, "attached"), o.dryRun.suffix())
			}
		}
	}
	if o.output.requested() {
		return o.output.printSecrets(o.Out, written)
	}
	return nil
}

// check checks every namespace before anything is written, and returns the Secrets
// that --overwrite replaces.
func (o *CreateOptions) check(ctx context.Context, namespaces []string) (map[string]*corev1.Secret, error) {
	existing := map[string]*corev1.Secret{}
	for _, ns := range namespaces {
		n, err := o.client.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
		if err != nil {
			return nil, fmt.Errorf("namespace %s: %w", ns, err)
		}
		if n.Status.Phase == corev1.NamespaceTerminating {
			return nil, fmt.Errorf("namespace %s is being deleted: leave it out", ns)
		}
		s, err := o.client.CoreV1().Secrets(ns).Get(ctx, o.Name, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
		case err != nil:
			return nil, fmt.Errorf("get secret %s/%s: %w", ns, o.Name, err)
		case s.Type != corev1.SecretTypeDockerConfigJson && s.Type != corev1.SecretTypeDockercfg:
			return nil, fmt.Errorf("secret %s/%s exists with type %q: regcred never changes a Secret of another type; pick another name or delete it", ns, o.Name, typeOf(s))
		case pullsecret.Owner(s) != "":
			return nil, fmt.Errorf("secret %s/%s is a copy that ClusterPullSecret %s keeps: regcred-controller would undo any change; change its source instead (%s)", ns, o.Name, pullsecret.Owner(s), copySource(s))
		case !o.Overwrite:
			return nil, fmt.Errorf("secret %s/%s already exists: add --overwrite to replace its credentials", ns, o.Name)
		case s.Type != corev1.SecretTypeDockerConfigJson:
			return nil, fmt.Errorf("secret %s/%s has type %s and a Secret's type cannot change: delete it first, then create", ns, o.Name, s.Type)
		case s.Immutable != nil && *s.Immutable:
			return nil, fmt.Errorf("secret %s/%s is immutable: delete it first, then create", ns, o.Name)
		default:
			existing[ns] = s
		}
		for _, sa := range o.attach {
			if _, err := o.client.CoreV1().ServiceAccounts(ns).Get(ctx, sa, metav1.GetOptions{}); err != nil {
				return nil, fmt.Errorf("--attach %s: serviceaccount %s/%s: %w", sa, ns, sa, err)
			}
		}
	}
	return existing, nil
}

// write creates the Secret, or replaces the credentials of old, and records the write
// in undo (unless it is a server dry run, which stores nothing).
func (o *CreateOptions) write(ctx context.Context, ns string, data []byte, old *corev1.Secret, undo *undoLog) (*corev1.Secret, string, error) {
	if old != nil {
		s := old.DeepCopy()
		s.Type = corev1.SecretTypeDockerConfigJson
		s.Data = map[string][]byte{corev1.DockerConfigJsonKey: data}
		out, err := o.client.CoreV1().Secrets(ns).Update(ctx, s, metav1.UpdateOptions{DryRun: o.dryRun.serverDryRun(), FieldManager: "kubectl-regcred"})
		if err != nil {
			return nil, "", fmt.Errorf("update secret %s/%s: %w", ns, o.Name, err)
		}
		if o.dryRun == dryRunNone {
			undo.overwrote(old, out)
		}
		return out, "configured", nil
	}
	s := newPullSecret(ns, o.Name, data)
	out, err := o.client.CoreV1().Secrets(ns).Create(ctx, s, metav1.CreateOptions{DryRun: o.dryRun.serverDryRun(), FieldManager: "kubectl-regcred"})
	if err != nil {
		return nil, "", fmt.Errorf("create secret %s/%s: %w", ns, o.Name, err)
	}
	if o.dryRun == dryRunNone {
		undo.created(out)
	}
	return out, "created", nil
}

// printClientDryRun prints what would be created, without asking the cluster.
func (o *CreateOptions) printClientDryRun(namespaces []string, data []byte) error {
	var secrets []*corev1.Secret
	for _, ns := range namespaces {
		secrets = append(secrets, newPullSecret(ns, o.Name, data))
		if !o.output.requested() {
			fmt.Fprintf(o.Out, "secret/%s created in %s%s\n", o.Name, ns, o.dryRun.suffix())
			for _, sa := range o.attach {
				fmt.Fprintf(o.Out, "serviceaccount/%s in %s attached%s\n", sa, ns, o.dryRun.suffix())
			}
		}
	}
	if o.output.requested() {
		return o.output.printSecrets(o.Out, secrets)
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
