#!/usr/bin/python3
"""Reads YAML on stdin for the packaging tests (Debian's python3-yaml).

  yamlq.py k8s            every document must be a Kubernetes object with
                          apiVersion, kind and a DNS-1123 metadata.name (and a
                          pod's mounts must match its volumes); prints one line
                          per leaf: "Kind/name path=value"
  yamlq.py flat           one document (e.g. `docker-compose config`); prints
                          "path=value" per leaf
  yamlq.py get PATH       one document; prints the value at PATH raw (strings as
                          they are, anything else as JSON)
  yamlq.py k8s-get KIND/NAME PATH   the same, in the object KIND/NAME

Paths look like spec.template.spec.containers[0].image; values print as JSON
scalars except strings, which print raw (newlines escaped as \\n).
Exit 1 with a message on any parse or shape error.
"""
import json
import re
import sys

import yaml

DNS1123 = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")


def die(msg):
    sys.stderr.write("yamlq: %s\n" % msg)
    sys.exit(1)


def scalar(v):
    if isinstance(v, str):
        return v.replace("\\", "\\\\").replace("\n", "\\n")
    return json.dumps(v)


def leaves(node, path, out):
    if isinstance(node, dict):
        if not node:
            out.append((path, "{}"))
        for k, v in node.items():
            leaves(v, "%s.%s" % (path, k) if path else str(k), out)
    elif isinstance(node, list):
        if not node:
            out.append((path, "[]"))
        for i, v in enumerate(node):
            leaves(v, "%s[%d]" % (path, i), out)
    else:
        out.append((path, scalar(node)))
    return out


def k8s_docs(text):
    try:
        docs = [d for d in yaml.safe_load_all(text) if d is not None]
    except yaml.YAMLError as e:
        die("rendered YAML does not parse: %s" % e)
    objs = {}
    for i, d in enumerate(docs):
        if not isinstance(d, dict):
            die("document %d is not a mapping" % i)
        for key in ("apiVersion", "kind"):
            if not isinstance(d.get(key), str) or not d[key]:
                die("document %d has no %s" % (i, key))
        name = (d.get("metadata") or {}).get("name")
        if not isinstance(name, str) or not DNS1123.match(name) or len(name) > 253:
            die("%s in document %d has no valid metadata.name: %r" % (d["kind"], i, name))
        ref = "%s/%s" % (d["kind"], name)
        if ref in objs:
            die("%s rendered twice" % ref)
        objs[ref] = d
        if d["kind"] in ("Deployment", "StatefulSet", "DaemonSet"):
            check_pod(ref, ((d.get("spec") or {}).get("template") or {}).get("spec") or {})
    return objs


def check_pod(ref, pod):
    """Pod spec consistency the API server would reject: unknown or duplicate
    volumes, duplicate mount paths, unnamed containers."""
    vols = [v.get("name") for v in pod.get("volumes") or []]
    if len(vols) != len(set(vols)):
        die("%s has duplicate volume names: %s" % (ref, vols))
    containers = pod.get("containers") or []
    if not containers:
        die("%s has no containers" % ref)
    for c in containers:
        if not isinstance(c.get("name"), str) or not DNS1123.match(c["name"]):
            die("%s has a container without a valid name" % ref)
        paths = []
        for m in c.get("volumeMounts") or []:
            if m.get("name") not in vols:
                die("%s mounts volume %r, which the pod does not define" % (ref, m.get("name")))
            if not str(m.get("mountPath", "")).startswith("/"):
                die("%s mounts %r at a relative path" % (ref, m.get("name")))
            paths.append(m["mountPath"])
        if len(paths) != len(set(paths)):
            die("%s mounts two volumes at the same path: %s" % (ref, paths))


def lookup(node, path):
    for part in re.findall(r"[^.\[\]]+|\[\d+\]", path):
        try:
            node = node[int(part[1:-1])] if part.startswith("[") else node[part]
        except (KeyError, IndexError, TypeError):
            die("no %s (at %s)" % (path, part))
    return node


def one_doc(text):
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as e:
        die("YAML does not parse: %s" % e)


def main(argv):
    text = sys.stdin.read()
    if argv[:1] == ["k8s"]:
        for ref, d in k8s_docs(text).items():
            for path, v in leaves(d, "", []):
                print("%s %s=%s" % (ref, path, v))
    elif argv[:1] == ["flat"]:
        for path, v in leaves(one_doc(text), "", []):
            print("%s=%s" % (path, v))
    elif argv[:1] == ["get"] and len(argv) == 2:
        v = lookup(one_doc(text), argv[1])
        print(v if isinstance(v, str) else json.dumps(v))
    elif argv[:1] == ["k8s-get"] and len(argv) == 3:
        objs = k8s_docs(text)
        if argv[1] not in objs:
            die("no object %s (have: %s)" % (argv[1], ", ".join(sorted(objs))))
        v = lookup(objs[argv[1]], argv[2])
        print(v if isinstance(v, str) else json.dumps(v))
    else:
        die("usage: yamlq.py k8s | flat | get PATH | k8s-get KIND/NAME PATH")


if __name__ == "__main__":
    main(sys.argv[1:])
