"""K3sCluster: k3s on the inventory's servers and agents over SSH with pulumi-command.

Order matters and is explicit: the first server initialises the cluster, the other servers
join one after another, then the agents one after another. Each node's install script
embeds the version and its config, so a version bump changes every script and Pulumi
updates the nodes in that same chain: servers before agents, one node at a time. An
update re-runs the install script (which upgrades in place); the uninstall script runs
only when the node's resource is deleted (`pulumi destroy` or removal from the inventory).
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_command as command
import pulumi_random as random

from labinfra.k3s.scripts import (
    KUBECONFIG_SCRIPT,
    K3sRelease,
    NodePlan,
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
class K3sClusterArgs:
    release: K3sRelease
    nodes: list[SshNode]
    """Install order: the init server first, then joining servers, then agents."""
    ssh_user: str
    ssh_port: int
    ssh_private_key: pulumi.Input[str]

    def __post_init__(self) -> None:
        roles = [n.plan.role for n in self.nodes]
        if not roles or roles[0] != "server-init" or roles.count("server-init") != 1:
            raise ValueError("the first node, and only it, must be the init server")
        if roles != sorted(roles, key=lambda r: r == "agent"):
            raise ValueError("agents must come after every server")


class K3sCluster(pulumi.ComponentResource):
    kubeconfig: pulumi.Output[str]
    installs: list[command.remote.Command]

    def __init__(
        self, name: str, args: K3sClusterArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("lab:cluster:K3sCluster", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        token = random.RandomPassword(f"{name}-token", length=48, special=False, opts=child)
        # `read` needs the newline; the value stays secret because the token is.
        token_line = secret(pulumi.Output.concat(token.result, "\n"))
        self.installs = []
        previous: command.remote.Command | None = None
        for node in args.nodes:
            connection = command.remote.ConnectionArgs(
                host=node.address,
                user=args.ssh_user,
                port=args.ssh_port,
                private_key=args.ssh_private_key,
            )
            script = install_script(node.plan, args.release)
            install = command.remote.Command(
                f"{name}-{node.hostname}-k3s",
                connection=connection,
                create=script,
                # With an `update` command a changed script updates the node in place;
                # without one pulumi-command replaces the resource, which would run the
                # uninstall script on every upgrade.
                update=script,
                delete=uninstall_script(node.plan.role),
                stdin=token_line,
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
        fetch = command.remote.Command(
            f"{name}-kubeconfig",
            connection=command.remote.ConnectionArgs(
                host=first.address,
                user=args.ssh_user,
                port=args.ssh_port,
                private_key=args.ssh_private_key,
            ),
            create=KUBECONFIG_SCRIPT,
            logging=command.remote.Logging.NONE,
            opts=pulumi.ResourceOptions(
                parent=self,
                depends_on=[self.installs[0]],
                additional_secret_outputs=["stdout"],
            ),
        )
        self.kubeconfig = secret(
            fetch.stdout.apply(lambda text: public_kubeconfig(text, first.address))
        )
        self.register_outputs({"kubeconfig": self.kubeconfig})
