#!/usr/bin/env bash
# The Helm chart (helm/assemblyline-replay) with the real helm binary: lint, then
# `helm template` in creator and loader modes, with the upstream chart's Replay
# defaults, with values shaped like the upstream documentation's, and with every
# optional feature on. Asserts object names, mounts, probe, HPA/KEDA, security
# context and that bad values fail the render with a clear message. Every
# rendered document must parse and carry apiVersion/kind/metadata.name, and every
# render is validated against the Kubernetes API schemas without a cluster
# (packaging/kube_validate.mjs: the npm packages kubernetes-models and
# @kubernetes-models/keda, plus a check for unknown fields); manifests broken on
# purpose (an unknown field, a wrong type, a missing required field, an unknown
# kind) must fail that validation.
. "$REPLAY_SOURCE_DIR/tests/integration/lib.sh"

HELM=$(npm_tool helm)
CHART=$REPLAY_SOURCE_DIR/helm/assemblyline-replay
FIX=$REPLAY_SOURCE_DIR/tests/integration/packaging
/usr/bin/python3 -c 'import yaml' 2>/dev/null ||
  fail "/usr/bin/python3 with python3-yaml is needed (run scripts/setup)"
yq() { /usr/bin/python3 "$FIX/yamlq.py" "$@"; }
command -v node >/dev/null || fail "node is needed (run scripts/setup)"
kube_validate() { node "$FIX/kube_validate.mjs" "$@"; }

# render NAME [helm template args...]: $T/NAME.yaml (as rendered) and $T/NAME.flat
# ("Kind/name path=value" lines); fails the test if helm or the parse fails.
# The release is $RELEASE (default rel). Every render is validated against the
# Kubernetes schemas near the end.
rendered=()
render() {
  local name=$1; shift
  rendered+=("$T/$name.yaml")
  "$HELM" template "${RELEASE:-rel}" "$CHART" "$@" >"$T/$name.yaml" 2>"$T/$name.err" ||
    fail "helm template ($name) failed: $(cat "$T/$name.err")"
  yq k8s <"$T/$name.yaml" >"$T/$name.flat" || fail "rendered YAML ($name) is not valid"
}
# render_fails WHAT EXPECTED_MESSAGE [helm template args...]
render_fails() {
  local what=$1 msg=$2; shift 2
  run "$HELM" template "${RELEASE:-rel}" "$CHART" "$@"
  [ "$rc" -ne 0 ] || fail "$what: the render succeeded"
  assert_contains "$err" "$msg" "$what: helm's error"
}
has() { grep -qxF -- "$2" "$T/$1.flat" || fail "$1: no line '$2'"; }
hasnt() { ! grep -qF -- "$2" "$T/$1.flat" || fail "$1: unexpected '$2': $(grep -F -- "$2" "$T/$1.flat" | head -3)"; }
objects() { sed 's/ .*//' "$T/$1.flat" | sort -u | tr '\n' ' '; }
get() { yq k8s-get "$2" "$3" <"$T/$1.yaml"; }

default_probe=$(yq get replayLivenessCommand <"$CHART/values.yaml")
assert_eq "if [[ ! \`find /tmp/heartbeat -newermt '-30 seconds'\` ]]; then false; fi" \
  "$default_probe" "default replayLivenessCommand (upstream's)"

note "the config checker rejects a bad replay.yml (so its OK below means something)"
printf 'loader:\n  input_threads: six\n' >"$T/bad.yml"
run "$(bin replay-ctl)" --config "$T/bad.yml" config --check
[ "$rc" -eq 2 ] || fail "replay-ctl config --check on a bad file: exit $rc, expected 2 ($out $err)"

note "helm lint"
run "$HELM" lint --strict "$CHART"
[ "$rc" -eq 0 ] || fail "helm lint: $out $err"
for f in values-seed-creator.yaml values-seed-loader.yaml values-full-loader.yaml; do
  run "$HELM" lint --strict "$CHART" -f "$FIX/$f"
  [ "$rc" -eq 0 ] || fail "helm lint -f $f: $out $err"
done

# Checks shared by every Replay Deployment.
# deployment_ok RENDER NAME UID PROBE
deployment_ok() {
  local r=$1 d=Deployment/$2 uid=$3 probe=$4
  local c="$d spec.template.spec.containers[0]"
  has "$r" "$d apiVersion=apps/v1"
  for l in "app=assemblyline" "section=core" "component=$2"; do
    has "$r" "$d spec.selector.matchLabels.$l"
    has "$r" "$d spec.template.metadata.labels.$l"
  done
  has "$r" "$c.name=$2"
  has "$r" "$c.command[0]=$2"
  has "$r" "$c.command[1]=--config"
  has "$r" "$c.command[2]=/etc/assemblyline/replay.yml"
  has "$r" "$c.livenessProbe.exec.command[0]=bash"
  has "$r" "$c.livenessProbe.exec.command[1]=-c"
  has "$r" "$c.livenessProbe.exec.command[2]=$probe"
  has "$r" "$c.livenessProbe.initialDelaySeconds=30"
  has "$r" "$c.livenessProbe.periodSeconds=30"
  # replay.yml from the ConfigMap, read-only, at upstream's path; /tmp writable.
  local vols mounts
  vols=$(get "$r" "$d" spec.template.spec.volumes)
  mounts=$(get "$r" "$d" 'spec.template.spec.containers[0].volumeMounts')
  assert_contains "$mounts" '{"name": "replay-config", "mountPath": "/etc/assemblyline/replay.yml", "subPath": "replay", "readOnly": true}' "$d mounts"
  assert_contains "$vols" '{"name": "replay-config", "configMap": {"name": "rel-replay-config"}}' "$d volumes"
  assert_contains "$mounts" '{"name": "tmp", "mountPath": "/tmp"}' "$d mounts"
  # Security: non-root, read-only root filesystem, nothing to escalate to.
  has "$r" "$d spec.template.spec.securityContext.runAsNonRoot=true"
  has "$r" "$d spec.template.spec.securityContext.seccompProfile.type=RuntimeDefault"
  has "$r" "$d spec.template.spec.automountServiceAccountToken=false"
  has "$r" "$c.securityContext.runAsUser=$uid"
  has "$r" "$c.securityContext.runAsGroup=1000"
  has "$r" "$c.securityContext.allowPrivilegeEscalation=false"
  has "$r" "$c.securityContext.capabilities.drop[0]=ALL"
  # Redis URLs and the API key reach the process from Secrets only.
  local env
  env=$(get "$r" "$d" 'spec.template.spec.containers[0].env')
  assert_contains "$env" '{"name": "REPLAY_REDIS_URL", "valueFrom": {"secretKeyRef": {' "$d env"
  assert_contains "$env" '{"name": "REPLAY_REDIS_PERSISTENT_URL", "valueFrom": {"secretKeyRef": {' "$d env"
  assert_not_contains "$env" 'redis://' "$d env"
  grep -q "^$d spec.template.metadata.annotations.checksum/replay-config=[0-9a-f]\{64\}$" "$T/$r.flat" ||
    fail "$r: $d has no checksum/replay-config annotation"
  has "$r" "$d spec.template.spec.priorityClassName=al-core-priority"
  has "$r" "$d spec.template.spec.terminationGracePeriodSeconds=60"
}
# The rendered replay.yml must be one the services accept.
configmap_checks() {
  local r=$1 file=$T/$1-replay.yml
  get "$r" ConfigMap/rel-replay-config data.replay >"$file"
  run "$(bin replay-ctl)" --config "$file" config --check
  [ "$rc" -eq 0 ] || fail "$r: replay-ctl config --check rejects the rendered replay.yml (rc $rc): $err"
}

note "default values: creator mode"
render creator
assert_eq "ConfigMap/rel-replay-config Deployment/replay-creator Deployment/replay-creator-worker HorizontalPodAutoscaler/replay-creator-worker-hpa Secret/rel-replay-redis " \
  "$(objects creator)" "objects rendered in creator mode"
deployment_ok creator replay-creator 1000 "$default_probe"
deployment_ok creator replay-creator-worker 1000 "$default_probe"
has creator "Deployment/replay-creator spec.replicas=1"
has creator "Deployment/replay-creator spec.strategy.type=Recreate"
hasnt creator "Deployment/replay-creator-worker spec.replicas="
has creator "Deployment/replay-creator spec.template.spec.containers[0].image=assemblyline-replay:0.1.0"
has creator "Deployment/replay-creator spec.template.spec.containers[0].securityContext.readOnlyRootFilesystem=true"
for r in "requests.cpu=250m" "requests.memory=256Mi" "limits.cpu=1" "limits.memory=512Mi"; do
  has creator "Deployment/replay-creator spec.template.spec.containers[0].resources.$r"
done
for r in "requests.cpu=1" "requests.memory=1Gi" "limits.cpu=1" "limits.memory=2Gi"; do
  has creator "Deployment/replay-creator-worker spec.template.spec.containers[0].resources.$r"
done
hpa=HorizontalPodAutoscaler/replay-creator-worker-hpa
has creator "$hpa apiVersion=autoscaling/v2"
has creator "$hpa spec.scaleTargetRef.kind=Deployment"
has creator "$hpa spec.scaleTargetRef.name=replay-creator-worker"
has creator "$hpa spec.minReplicas=1"
has creator "$hpa spec.maxReplicas=10"
has creator "$hpa spec.metrics[0].resource.name=cpu"
has creator "$hpa spec.metrics[0].resource.target.type=Utilization"
has creator "$hpa spec.metrics[0].resource.target.averageUtilization=50"
# file:// output and the working directory are writable volumes.
m=$(get creator Deployment/replay-creator-worker 'spec.template.spec.containers[0].volumeMounts')
assert_contains "$m" '{"name": "replay-output", "mountPath": "/tmp/replay/output"}' "creator-worker mounts"
assert_contains "$m" '{"name": "replay-work", "mountPath": "/tmp/replay/work"}' "creator-worker mounts"
has creator "Secret/rel-replay-redis stringData.url=redis://redis-volatile:6379"
has creator "Secret/rel-replay-redis stringData.persistent-url=redis://redis-persistent:6379"
env=$(get creator Deployment/replay-creator-worker 'spec.template.spec.containers[0].env')
assert_contains "$env" '{"name": "REPLAY_APIKEY", "valueFrom": {"secretKeyRef": {"name": "assemblyline-replay-apikey", "key": "apikey"}}}' "API key env"
assert_contains "$env" '"secretKeyRef": {"name": "rel-replay-redis", "key": "url"}' "Redis URL env"
assert_eq "api" "$(get creator ConfigMap/rel-replay-config data.replay | yq get creator.client.type)" "creator client type"
assert_eq '${REPLAY_APIKEY}' "$(get creator ConfigMap/rel-replay-config data.replay | yq get creator.client.options.apikey)" "apikey reference"
configmap_checks creator

note "loader mode"
render loader --set replayMode=loader --set replayLoaderUser=2000
assert_eq "ConfigMap/rel-replay-config Deployment/replay-loader Deployment/replay-loader-worker HorizontalPodAutoscaler/replay-loader-worker-hpa Secret/rel-replay-redis " \
  "$(objects loader)" "objects rendered in loader mode"
for d in replay-loader replay-loader-worker; do
  deployment_ok loader $d 2000 "$default_probe"
  m=$(get loader Deployment/$d 'spec.template.spec.containers[0].volumeMounts')
  v=$(get loader Deployment/$d spec.template.spec.volumes)
  assert_contains "$m" '{"name": "replay-data", "mountPath": "/tmp/replay/input"}' "$d mounts"
  assert_contains "$m" '{"name": "replay-failed", "mountPath": "/tmp/replay/failed"}' "$d mounts"
  assert_contains "$v" '{"name": "replay-data", "nfs": {"path": "/path/to/folder", "server": "localhost"}}' "$d volumes"
  hasnt loader "Deployment/$d spec.template.spec.volumes[5]"
done
has loader "Deployment/replay-loader spec.strategy.type=Recreate"
has loader "HorizontalPodAutoscaler/replay-loader-worker-hpa spec.scaleTargetRef.name=replay-loader-worker"
hasnt loader "replay-output"
configmap_checks loader

note "release name prefixes the ConfigMap only (as upstream)"
RELEASE=other render other
grep -qxF "ConfigMap/other-replay-config kind=ConfigMap" "$T/other.flat" || fail "ConfigMap not named other-replay-config"
grep -qxF "Deployment/replay-creator kind=Deployment" "$T/other.flat" || fail "Deployment name changed with the release"

note "the documented path: upstream's whole values.yaml, then examples/replay-overrides.yaml"
UPV=$FIX/upstream/assemblyline-values.yaml
OVR=$CHART/examples/replay-overrides.yaml
# Without the overrides: refused, whatever useReplay says (an empty render under the
# Assemblyline release's name would delete Assemblyline).
render_fails "upstream values alone" "these values look like a whole Assemblyline release's (they hold assemblylineCoreImage, configuration, datastore, filestore, internalDatastore, useInternalRedis)" -f "$UPV"
render_fails "upstream values, useReplay on" "set replayAssemblylineRelease to the name of the Assemblyline release" \
  -f "$UPV" --set useReplay=true
# `helm upgrade assemblyline ./assemblyline-replay -f values -f overrides`: refused.
RELEASE=assemblyline render_fails "the Assemblyline release's name" \
  'the release name "assemblyline" is the Assemblyline release'"'"'s (replayAssemblylineRelease)' -f "$UPV" -f "$OVR"
RELEASE=al render_fails "the Assemblyline release's name, values without useReplay" \
  'the release name "al" is the Assemblyline release' --set replayAssemblylineRelease=al --set useReplay=false
# The overrides without their client part: upstream's direct client, and what to set.
render_fails "upstream's direct client" \
  'Set replay.creator.client.type: api, replay.creator.client.options.host (the API, e.g. http://ui:5000), replay.creator.client.options.user (the Assemblyline user owning the API key) and replay.creator.client.options.apikey: "${REPLAY_APIKEY}", and create the Secret "assemblyline-replay-apikey" (key "apikey", replayApiKeySecret) holding "<user>:<key>" for an API key with the replay_system role (docs/deployment.md, section 2.1)' \
  -f "$UPV" --set replayAssemblylineRelease=assemblyline --set useReplay=true
render_fails "internal encryption" "enableInternalEncryption is true, but this Replay cannot speak TLS yet" \
  -f "$UPV" -f "$OVR" --set enableInternalEncryption=true
render_fails "internal encryption, our values only" "enableInternalEncryption is true" --set enableInternalEncryption=true
for mode in creator loader; do
  render "path-$mode" -f "$UPV" -f "$OVR" --set replayMode=$mode
  assert_eq "ConfigMap/rel-replay-config Deployment/replay-$mode Deployment/replay-$mode-worker HorizontalPodAutoscaler/replay-$mode-worker-hpa Secret/rel-replay-redis " \
    "$(objects "path-$mode")" "objects rendered by the documented path ($mode)"
  for d in replay-$mode replay-$mode-worker; do
    deployment_ok "path-$mode" $d 1000 "$default_probe"
    has "path-$mode" "Deployment/$d spec.template.spec.containers[0].image=registry.example.org/assemblyline-replay:0.1.0"
  done
  has "path-$mode" "HorizontalPodAutoscaler/replay-$mode-worker-hpa spec.maxReplicas=10"
  cfg=$(get "path-$mode" ConfigMap/rel-replay-config data.replay)
  for side in creator loader; do
    assert_eq "api" "$(echo "$cfg" | yq get $side.client.type)" "$mode path: $side client type"
    assert_eq "replay" "$(echo "$cfg" | yq get $side.client.options.user)" "$mode path: $side API user"
  done
  assert_eq '["NOT extended_scan:submitted", "workflows_completed:true"]' \
    "$(echo "$cfg" | yq get creator.alert_input.filter_queries)" "upstream's alert filters kept"
  configmap_checks "path-$mode"
done
assert_contains "$(get path-loader Deployment/replay-loader-worker spec.template.spec.volumes)" \
  '{"name": "replay-data", "nfs": {"path": "/path/to/folder", "server": "localhost"}}' "loader share from upstream's values"
hasnt path-creator "cccs/assemblyline"

note "values shaped like the upstream documentation's"
render seed-creator -f "$FIX/values-seed-creator.yaml"
deployment_ok seed-creator replay-creator-worker 1000 "$default_probe"
assert_contains "$(get seed-creator ConfigMap/rel-replay-config data.replay | yq get creator.output_filestore)" \
  "s3://replay_key:\${REPLAY_S3_SECRET}@s3.example.org" "creator output_filestore"
hasnt seed-creator "replay-output"
configmap_checks seed-creator
render seed-loader -f "$FIX/values-seed-loader.yaml"
for d in replay-loader replay-loader-worker; do
  deployment_ok seed-loader $d 1000 "ls /tmp/replay/input"
  assert_contains "$(get seed-loader Deployment/$d spec.template.spec.volumes)" \
    '{"name": "replay-data", "nfs": {"path": "/exports/replay", "server": "nfs.example.org"}}' "$d volumes"
done
configmap_checks seed-loader

note "every optional feature (loader)"
render full -f "$FIX/values-full-loader.yaml"
assert_eq "ConfigMap/rel-replay-config Deployment/replay-loader Deployment/replay-loader-worker PersistentVolumeClaim/rel-replay-loader-work ScaledObject/replay-loader-worker " \
  "$(objects full)" "objects with KEDA, PVCs and existing Secrets"
w="Deployment/replay-loader-worker spec.template.spec"
hasnt full "Deployment/replay-loader-worker spec.replicas="
has full "Deployment/replay-loader spec.replicas=1"
has full "$w.containers[0].image=registry.example.org/assemblyline-replay:1.2.3"
has full "$w.containers[0].imagePullPolicy=Always"
has full "$w.imagePullSecrets[0].name=regcred"
has full "$w.containers[0].securityContext.runAsUser=2000"
has full "$w.containers[0].securityContext.readOnlyRootFilesystem=false"
has full "$w.tolerations[0].key=dedicated"
has full "$w.containers[1].name=redis-tls"
has full "$w.containers[0].name=replay-loader-worker"
has full "$w.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].key=replay"
has full "Deployment/replay-loader-worker spec.template.metadata.labels.team=intake"
env=$(get full Deployment/replay-loader-worker 'spec.template.spec.containers[0].env')
assert_contains "$env" '"secretKeyRef": {"name": "replay-redis-urls", "key": "volatile"}' "existing Redis Secret"
assert_contains "$env" '"secretKeyRef": {"name": "target-apikey", "key": "key"}' "API key Secret"
assert_contains "$env" '{"name": "AL_LOG_LEVEL", "value": "DEBUG"}' "coreEnv"
for d in replay-loader replay-loader-worker; do
  m=$(get full Deployment/$d 'spec.template.spec.containers[0].volumeMounts')
  v=$(get full Deployment/$d spec.template.spec.volumes)
  assert_contains "$m" '{"name": "replay-data", "mountPath": "/data/in"}' "$d input mount"
  assert_contains "$m" '{"name": "replay-failed", "mountPath": "/data/failed"}' "$d failed mount"
  assert_contains "$m" '{"name": "al-config", "mountPath": "/etc/assemblyline/config.yml", "subPath": "config", "readOnly": true}' "$d config.yml"
  assert_contains "$m" '"name": "extra-ca"' "$d coreMounts"
  assert_contains "$v" '{"name": "replay-failed", "persistentVolumeClaim": {"claimName": "replay-failed-share"}}' "$d failed PVC"
  assert_contains "$v" '{"emptyDir": {}, "name": "scratch"}' "$d extra loader volume"
  assert_contains "$v" '{"name": "tmp", "emptyDir": {"sizeLimit": "2Gi"}}' "$d /tmp"
done
assert_contains "$(get full Deployment/replay-loader spec.template.spec.volumes)" \
  '{"name": "replay-work", "persistentVolumeClaim": {"claimName": "rel-replay-loader-work"}}' "loader work PVC"
assert_contains "$(get full Deployment/replay-loader-worker spec.template.spec.volumes)" \
  '{"name": "replay-work", "emptyDir": {}}' "worker scratch"
has full "PersistentVolumeClaim/rel-replay-loader-work spec.storageClassName=fast"
has full "PersistentVolumeClaim/rel-replay-loader-work metadata.annotations.helm.sh/resource-policy=keep"
so=ScaledObject/replay-loader-worker
has full "$so apiVersion=keda.sh/v1alpha1"
has full "$so spec.scaleTargetRef.name=replay-loader-worker"
has full "$so spec.minReplicaCount=0"
has full "$so spec.maxReplicaCount=4"
has full "$so spec.triggers[0].type=redis"
has full "$so spec.triggers[0].metadata.listName=replay_file"
has full "$so spec.triggers[0].metadata.address=redis-volatile.al.svc:6379"
has full "$so spec.triggers[0].metadata.databaseIndex=2"
has full "$so spec.triggers[0].metadata.listLength=5"
has full "$so spec.triggers[0].authenticationRef.name=replay-redis-auth"
hasnt full "$so spec.triggers[1]"
configmap_checks full

note "KEDA in creator mode: one trigger per enabled input queue"
render keda-creator --set replayKeda.enabled=true --set replay.creator.badlist_input.enabled=false \
  --set replayRedis.url=redis://redis-volatile/3
so=ScaledObject/replay-creator-worker
lists=$(grep "^$so spec.triggers\[[0-9]\].metadata.listName=" "$T/keda-creator.flat" | sed 's/.*=//' | tr '\n' ' ')
assert_eq "replay_alert replay_submission replay_safelist replay_signature replay_workflow " "$lists" "KEDA trigger lists"
has keda-creator "$so spec.triggers[0].metadata.address=redis-volatile:6379"
has keda-creator "$so spec.triggers[0].metadata.databaseIndex=3"
hasnt keda-creator "HorizontalPodAutoscaler"

note "without an autoscaler the worker count is replayWorkerInstances"
render noscale --set useAutoScaler=false --set replayWorkerInstances=3
has noscale "Deployment/replay-creator-worker spec.replicas=3"
hasnt noscale "HorizontalPodAutoscaler"

note "a changed replay: block changes the pods' checksum; other values do not"
sum() { grep "^Deployment/replay-creator-worker spec.template.metadata.annotations.checksum/replay-config=" "$T/$1.flat"; }
render sum-other --set replayWorkerInstancesMax=20
render sum-changed --set replay.creator.lookback_time=now-1d
assert_eq "$(sum creator)" "$(sum sum-other)" "checksum after an unrelated change"
[ "$(sum creator)" != "$(sum sum-changed)" ] || fail "checksum did not change with the replay: block"

note "bad values fail the render with a message"
render_fails "replayMode Loader" 'replayMode must be "creator" or "loader", got "Loader"' --set replayMode=Loader
render_fails "replayMode empty" 'replayMode must be "creator" or "loader", got ""' --set replayMode=
render_fails "loader direct client" 'replay.loader.client.type is "direct"' \
  --set replayMode=loader --set replay.loader.client.type=direct
render_fails "unknown client type" 'replay.creator.client.type must be "api", got "rest"' \
  --set replay.creator.client.type=rest
render_fails "renamed loader volume" 'replayLoaderVolume has no volume named "replay-data"' \
  --set replayMode=loader --set 'replayLoaderVolume[0].name=data' --set 'replayLoaderVolume[0].emptyDir.medium='
render_fails "root loader" 'replayLoaderUser is 0 (root)' --set replayMode=loader --set replayLoaderUser=0
render_fails "min above max" 'replayWorkerInstancesMax (2) is below replayWorkerInstances (3)' \
  --set replayWorkerInstances=3 --set replayWorkerInstancesMax=2
render_fails "zero workers with the HPA" 'replayWorkerInstances must be at least 1 with the CPU autoscaler' \
  --set replayWorkerInstances=0
render_fails "rediss" 'replayRedis.url uses rediss:// (TLS)' --set replayRedis.url=rediss://redis-volatile:6379
render_fails "API key without Secret" 'refers to ${REPLAY_APIKEY} but replayApiKeySecret.name is empty' \
  --set replayApiKeySecret.name=
render_fails "output PVC with S3" 'replayPersistence.output.enabled needs a file://' \
  -f "$FIX/values-seed-creator.yaml" --set replayPersistence.output.enabled=true
render_fails "KEDA without address" 'replayKeda.redisAddress (host:port) is required' \
  --set replayKeda.enabled=true --set replayRedis.existingSecret=urls
render_fails "KEDA with a Redis password" 'set replayKeda.authenticationRef' \
  --set replayKeda.enabled=true --set 'replayRedis.url=redis://:pw@redis-volatile:6379'
render_fails "same failed and work directory" 'must be distinct' \
  --set replayMode=loader --set replay.loader.failed_directory=/tmp/replay/work
render_fails "relative working directory" 'replay.creator.working_directory must be an absolute path' \
  --set replay.creator.working_directory=work
assert_not_contains "$err" ":pw@" "error message"

note "every render validates against the Kubernetes schemas (${#rendered[@]} renders)"
run kube_validate "${rendered[@]}"
[ "$rc" -eq 0 ] || fail "schema validation of the rendered manifests (exit $rc): $err"
for f in "${rendered[@]}"; do
  r=$(basename "$f" .yaml)
  n=$(objects "$r" | wc -w)
  assert_contains "$out" "$f: $n valid: " "validation summary of $r ($n objects)"
done

note "manifests broken on purpose fail the validation, naming the object and field"
# broken BASE WHAT SED_SCRIPT EXPECTED: render BASE edited by SED_SCRIPT must fail
# the validation with EXPECTED in its message.
broken() {
  local base=$T/$1.yaml what=$2 script=$3 expected=$4
  sed "$script" "$base" >"$T/broken.yaml"
  ! cmp -s "$base" "$T/broken.yaml" || fail "broken manifest ($what): the edit changed nothing"
  run kube_validate "$T/broken.yaml"
  [ "$rc" -eq 1 ] || fail "broken manifest ($what): validation exit $rc, expected 1 ($out $err)"
  assert_contains "$err" "$expected" "broken manifest ($what)"
}
broken full "unknown container field" '0,/imagePullPolicy:/s//imagePullPolcy:/' \
  "Deployment/replay-loader: /spec/template/spec/containers/0/imagePullPolcy: unknown field"
broken full "unknown ScaledObject field" 's/maxReplicaCount:/maxReplicasCount:/' \
  "ScaledObject/replay-loader-worker: /spec/maxReplicasCount: unknown field"
broken creator "unknown HPA field" 's/averageUtilization:/averageUtilisation:/' \
  "HorizontalPodAutoscaler/replay-creator-worker-hpa: /spec/metrics/0/resource/target/averageUtilisation: unknown field"
broken full "replicas a string" 's/^  replicas: 1$/  replicas: one/' \
  "Deployment/replay-loader: /spec/replicas: must be integer"
broken full "minReplicaCount a string" 's/^  minReplicaCount: 0$/  minReplicaCount: none/' \
  "ScaledObject/replay-loader-worker: /spec/minReplicaCount: must be integer"
broken full "bad imagePullPolicy" '0,/imagePullPolicy: Always/s//imagePullPolicy: Sometimes/' \
  "/spec/template/spec/containers/0/imagePullPolicy: must be equal to one of the allowed values"
broken full "container without a name" \
  '/^        - name: replay-loader$/{N;s/^        - name: replay-loader\n          image:/        - image:/}' \
  "Deployment/replay-loader: /spec/template/spec/containers/0: must have required property"
broken full "scaleTargetRef without a name" '/^    kind: Deployment$/{n;/^    name: replay-loader-worker$/d}' \
  "ScaledObject/replay-loader-worker: /spec/scaleTargetRef: must have required property"
broken full "unknown kind" 's/^kind: ScaledObject$/kind: ScaledObjekt/' \
  "no schema for apiVersion keda.sh/v1alpha1 kind ScaledObjekt"
broken creator "a duplicate key" 's/^  replicas: 1$/  replicas: 1\n  replicas: 2/' \
  "Map keys must be unique"

note "chart OK"
