"""K3sCluster: k3s on the inventory's servers and agents over SSH with pulumi-command.

Order matters and is explicit: the first server initialises the cluster, the other servers
join one after another, then the agents one after another. Each node's script embeds the
version, its config and the registry's settings, so a version bump or a registry change
changes every script and Pulumi updates the nodes in that same chain: servers before
agents, one node at a time, each script returning only once its node is Ready on the
wanted version. An update re-runs the script (which upgrades or restarts in place); the
uninstall script runs only when the node's resource is deleted (`pulumi destroy` or
removal from the inventory).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import pulumi
import pulumi_command as command
import pulumi_random as random

from labinfra.k3s.scripts import (
    KUBECONFIG_SCRIPT,
    K3sRelease,
    NodePlan,
    RegistryAccess,
    install_script,
    public_kubeconfig,
    uninstall_script,
)
from labinfra.kube import secret


@dataclass(frozen=True)
class SshNode:
    hostname: str
    address: str
    plan: NodePlan


@dataclass(frozen=True)
class NodeRegistry:
    """The lab registry as every node pulls from it."""

    host: str
    username: str
    password: pulumi.Input[str]
    ca_cert_pem: pulumi.Input[str]


@dataclass(frozen=True)
class K3sClusterArgs:
    release: K3sRelease
    nodes: list[SshNode]
    """Install order: the init server first, then joining servers, then agents."""
    ssh_user: str
    ssh_port: int
    ssh_private_key: pulumi.Input[str]
    registry: NodeRegistry | None = None
    kubeconfig_refresh: str = ""
    """A value that changes once per refresh period (`kubeconfig_refresh_window`): a new
    value makes the next `pulumi up` read the kubeconfig again."""

    def __post_init__(self) -> None:
        roles = [n.plan.role for n in self.nodes]
        if not roles or roles[0] != "server-init" or roles.count("server-init") != 1:
            raise ValueError("the first node, and only it, must be the init server")
        if roles != sorted(roles, key=lambda r: r == "agent"):
            raise ValueError("agents must come after every server")


def kubeconfig_refresh_window(now: datetime, days: int) -> str:
    """Names the `days`-long period `now` falls in (the same all through the period).

    k3s renews its client certificates (valid 365 days) when it starts within 90 days of
    their expiry (docs.k3s.io, "Certificate Management"); the old certificate stays valid
    until it expires. Reading the kubeconfig again at least every `days` days (and after
    every server install or upgrade) keeps the exported one from outliving its certificate.
    """
    if days < 1:
        raise ValueError("the refresh period is at least one day")
    return f"every-{days}d-{int(now.timestamp()) // (days * 86400)}"


class K3sCluster(pulumi.ComponentResource):
    kubeconfig: pulumi.Output[str]
    installs: list[command.remote.Command]
    kubeconfig_fetch: command.remote.Command

    def __init__(
        self, name: str, args: K3sClusterArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("lab:cluster:K3sCluster", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        token = random.RandomPassword(f"{name}-token", length=48, special=False, opts=child)
        # `read` needs the newlines; the value stays secret because the token is.
        if args.registry is None:
            stdin = secret(pulumi.Output.concat(token.result, "\n"))
        else:
            stdin = secret(pulumi.Output.concat(token.result, "\n", args.registry.password, "\n"))
        self.installs = []
        previous: command.remote.Command | None = None
        for node in args.nodes:
            script = self._script(node, args)
            install = command.remote.Command(
                f"{name}-{node.hostname}-k3s",
                connection=self._connection(node, args),
                create=script,
                # With an `update` command a changed script updates the node in place;
                # without one pulumi-command replaces the resource, which would run the
                # uninstall script on every upgrade.
                update=script,
                delete=uninstall_script(node.plan.role),
                stdin=stdin,
                # stdout would carry the installer's chatter into the state; nothing secret,
                # but nothing useful either.
                logging=command.remote.Logging.STDERR,
                opts=pulumi.ResourceOptions(
                    parent=self,
                    depends_on=[previous] if previous else [],
                    delete_before_replace=True,
                ),
            )
            self.installs.append(install)
            previous = install
        first = args.nodes[0]
        servers = [
            i for i, n in zip(self.installs, args.nodes, strict=True) if n.plan.role != "agent"
        ]
        self.kubeconfig_fetch = command.remote.Command(
            f"{name}-kubeconfig",
            connection=self._connection(first, args),
            create=KUBECONFIG_SCRIPT,
            # Read it again whenever a server was installed, upgraded or rebuilt (new
            # certificates), and once per refresh period (yearly client-certificate
            # renewal happens on any k3s restart, also outside Pulumi).
            triggers=[
                *(s.create for s in servers),
                self.installs[0].id,
                args.kubeconfig_refresh,
            ],
            logging=command.remote.Logging.NONE,
            opts=pulumi.ResourceOptions(
                parent=self,
                depends_on=servers,
                additional_secret_outputs=["stdout"],
            ),
        )
        self.kubeconfig = secret(
            self.kubeconfig_fetch.stdout.apply(lambda text: public_kubeconfig(text, first.address))
        )
        self.register_outputs({"kubeconfig": self.kubeconfig})

    @staticmethod
    def _connection(node: SshNode, args: K3sClusterArgs) -> command.remote.ConnectionArgs:
        return command.remote.ConnectionArgs(
            host=node.address,
            user=args.ssh_user,
            port=args.ssh_port,
            private_key=args.ssh_private_key,
        )

    @staticmethod
    def _script(node: SshNode, args: K3sClusterArgs) -> pulumi.Output[str]:
        registry = args.registry
        if registry is None:
            return pulumi.Output.from_input(install_script(node.plan, args.release))
        return pulumi.Output.from_input(registry.ca_cert_pem).apply(
            lambda pem: install_script(
                node.plan,
                args.release,
                RegistryAccess(host=registry.host, username=registry.username, ca_pem=pem),
            )
        )
