#!/usr/bin/python3
"""Ansible module: one systemd credential file, written only when its value changed."""

from __future__ import annotations

import os
import subprocess
import tempfile

from ansible.module_utils.basic import AnsibleModule

DOCUMENTATION = r"""
module: systemd_credential
short_description: Write a systemd credential (plain or encrypted with systemd-creds)
description:
  - Keeps the file at I(path) holding I(value) for C(LoadCredential=) (plain, mode 0600,
    root only) or C(LoadCredentialEncrypted=) (encrypted with C(systemd-creds encrypt
    --with-key=host), bound to this host's key in /var/lib/systemd/credential.secret).
  - Encryption is randomised, so an encrypted file is decrypted and compared rather than
    rewritten: an unchanged value reports C(changed=false), and the value never appears in
    a process's arguments, in the output or in a diff.
options:
  name:
    description: Credential name (what the service finds in $CREDENTIALS_DIRECTORY).
    type: str
    required: true
  path:
    description: File that holds it (its directory must exist).
    type: path
    required: true
  value:
    description: The secret.
    type: str
    required: true
    no_log: true
  encrypted:
    description: Encrypt with systemd-creds (systemd 250 or later).
    type: bool
    default: true
"""


def _current(name: str, path: str, encrypted: bool) -> bytes | None:
    if not os.path.exists(path):
        return None
    if not encrypted:
        with open(path, "rb") as handle:
            return handle.read()
    done = subprocess.run(
        ["systemd-creds", "decrypt", f"--name={name}", path, "-"],
        capture_output=True,
        check=False,
    )
    # Not decryptable (another host's key, a corrupt file): replace it.
    return done.stdout if done.returncode == 0 else None


def _write(module: AnsibleModule, name: str, path: str, value: bytes, encrypted: bool) -> None:
    directory = os.path.dirname(path)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{os.path.basename(path)}.")
    try:
        os.fchmod(fd, 0o600)
        if encrypted:
            os.close(fd)
            fd = -1
            done = subprocess.run(
                ["systemd-creds", "encrypt", f"--name={name}", "--with-key=host", "-", tmp],
                input=value,
                capture_output=True,
                check=False,
            )
            if done.returncode != 0:
                message = done.stderr.decode(errors="replace").strip()
                module.fail_json(msg=f"systemd-creds encrypt {name}: {message}")
            os.chmod(tmp, 0o600)
        else:
            os.write(fd, value)
            os.close(fd)
            fd = -1
        os.replace(tmp, path)
    finally:
        if fd >= 0:
            os.close(fd)
        if os.path.exists(tmp):
            os.unlink(tmp)


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "name": {"type": "str", "required": True},
            "path": {"type": "path", "required": True},
            "value": {"type": "str", "required": True, "no_log": True},
            "encrypted": {"type": "bool", "default": True},
        },
        supports_check_mode=True,
    )
    name, path = module.params["name"], module.params["path"]
    encrypted = module.params["encrypted"]
    value = module.params["value"].encode()
    if not os.path.isdir(os.path.dirname(path)):
        if module.check_mode:
            module.exit_json(changed=True, path=path)
        module.fail_json(msg=f"{os.path.dirname(path)} does not exist")
    changed = _current(name, path, encrypted) != value
    if changed and not module.check_mode:
        _write(module, name, path, value, encrypted)
    module.exit_json(changed=changed, path=path, encrypted=encrypted)


if __name__ == "__main__":
    main()
