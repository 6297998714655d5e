{{/*
Helpers of the assemblyline-replay chart. Names, labels, probe timing and
resources follow the upstream assemblyline chart's Replay objects
(docs/deployment.md); "replay.validate" turns bad values into one clear message.
*/}}

{{/* The active side's block of replay: (creator or loader); {} when absent. */}}
{{- define "replay.side" -}}
{{- $side := dig .Values.replayMode dict (.Values.replay | default dict) -}}
{{- toYaml $side -}}
{{- end -}}

{{/* Labels of every object; component is the upstream selector label. */}}
{{- define "replay.labels" -}}
app: assemblyline
section: core
component: {{ .component }}
app.kubernetes.io/name: {{ .root.Chart.Name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version }}
{{- end -}}

{{/* Selector labels: exactly upstream's three. */}}
{{- define "replay.selectorLabels" -}}
app: assemblyline
section: core
component: {{ .component }}
{{- end -}}

{{- define "replay.image" -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) -}}
{{- end -}}

{{- define "replay.configMapName" -}}
{{- printf "%s-replay-config" .Release.Name -}}
{{- end -}}

{{- define "replay.redisSecretName" -}}
{{- .Values.replayRedis.existingSecret | default (printf "%s-replay-redis" .Release.Name) -}}
{{- end -}}

{{/* Name of the PVC for one of work/failed/output ("" when not enabled). */}}
{{- define "replay.claimName" -}}
{{- $p := index .root.Values.replayPersistence .what -}}
{{- if $p.enabled -}}
{{- $p.existingClaim | default (printf "%s-replay-%s-%s" .root.Release.Name .root.Values.replayMode .what) -}}
{{- end -}}
{{- end -}}

{{/* Path of a file:// output_filestore ("" for any other scheme). */}}
{{- define "replay.outputPath" -}}
{{- $url := dig "creator" "output_filestore" "" (.Values.replay | default dict) | toString -}}
{{- if hasPrefix "file://" $url -}}
{{- (urlParse $url).path -}}
{{- end -}}
{{- end -}}

{{/* True ("true") when the CPU HorizontalPodAutoscaler is rendered. */}}
{{- define "replay.useHPA" -}}
{{- if and .Values.useAutoScaler (not .Values.replayKeda.enabled) -}}true{{- end -}}
{{- end -}}

{{/* Redis address (host:port) and database index for KEDA, from the values. */}}
{{- define "replay.kedaAddress" -}}
{{- if .Values.replayKeda.redisAddress -}}
{{- .Values.replayKeda.redisAddress -}}
{{- else -}}
{{- $u := urlParse .Values.replayRedis.url -}}
{{- if contains ":" $u.host -}}{{ $u.host }}{{- else -}}{{ printf "%s:6379" $u.host }}{{- end -}}
{{- end -}}
{{- end -}}

{{- define "replay.kedaDatabase" -}}
{{- if ne (toString .Values.replayKeda.databaseIndex) "" -}}
{{- .Values.replayKeda.databaseIndex -}}
{{- else if .Values.replayKeda.redisAddress -}}
0
{{- else -}}
{{- trimPrefix "/" (urlParse .Values.replayRedis.url).path | default "0" -}}
{{- end -}}
{{- end -}}

{{/* Queue lists the workers of the active mode consume (KEDA triggers). */}}
{{- define "replay.workerQueues" -}}
{{- if eq .Values.replayMode "loader" -}}
- replay_file
{{- else -}}
{{- $creator := dig "creator" dict (.Values.replay | default dict) -}}
{{- range $t := list "alert" "submission" "badlist" "safelist" "signature" "workflow" }}
{{- if dig (printf "%s_input" $t) "enabled" true $creator }}
- replay_{{ $t }}
{{- end }}
{{- end }}
{{- end -}}
{{- end -}}

{{/*
Refuses a render that would replace the Assemblyline release: values carrying the
assemblyline chart's own keys need replayAssemblylineRelease (the name of that
release), and this release must not have that name. Runs whether or not useReplay
is on: with useReplay off the render is empty, which would delete Assemblyline.
*/}}
{{- define "replay.guardRelease" -}}
{{- $v := .Values -}}
{{- $al := toString ($v.replayAssemblylineRelease | default "") -}}
{{- $markers := list -}}
{{- range $key := list "assemblylineCoreImage" "configuration" "datastore" "filestore" "internalDatastore" "useInternalRedis" -}}
{{- if hasKey $v $key -}}{{- $markers = append $markers $key -}}{{- end -}}
{{- end -}}
{{- if and $markers (not $al) -}}
{{- fail (printf "these values look like a whole Assemblyline release's (they hold %s). This chart is installed as a separate release next to Assemblyline's, never in its place: set replayAssemblylineRelease to the name of the Assemblyline release and install this one under another name (docs/deployment.md, section 2.1)" (join ", " $markers)) -}}
{{- end -}}
{{- if and $al (eq $al .Release.Name) -}}
{{- fail (printf "the release name %q is the Assemblyline release's (replayAssemblylineRelease): rendering this chart under it would replace Assemblyline's whole manifest. Install Replay as its own release, e.g. `helm install replay ...` (docs/deployment.md, section 2.1)" .Release.Name) -}}
{{- end -}}
{{- end -}}

{{/*
Checks the values; fails the render with one message naming the key.
*/}}
{{- define "replay.validate" -}}
{{- include "replay.guardRelease" . -}}
{{- $v := .Values -}}
{{- $mode := toString $v.replayMode -}}
{{- if $v.enableInternalEncryption -}}
{{- fail "enableInternalEncryption is true, but this Replay cannot speak TLS yet (Debian 12's hiredis has none, and it would reach the API as plain http): its pods would talk plaintext to TLS services. Replay cannot run next to a release with internal encryption yet (docs/deployment.md, section 2.6)" -}}
{{- end -}}
{{- if not (has $mode (list "creator" "loader")) -}}
{{- fail (printf "replayMode must be \"creator\" or \"loader\", got %q (upstream would have run a loader without its input volume)" $mode) -}}
{{- end -}}
{{- $side := fromYaml (include "replay.side" .) -}}
{{- $ctype := dig "client" "type" "direct" $side | toString -}}
{{- if eq $ctype "direct" -}}
{{- fail (printf "replay.%[1]s.client.type is \"direct\": this Replay talks to Assemblyline only through its REST API (direct mode is not built). Set replay.%[1]s.client.type: api, replay.%[1]s.client.options.host (the API, e.g. http://ui:5000), replay.%[1]s.client.options.user (the Assemblyline user owning the API key) and replay.%[1]s.client.options.apikey: \"${REPLAY_APIKEY}\", and create the Secret %[2]q (key %[3]q, replayApiKeySecret) holding \"<user>:<key>\" for an API key with the replay_system role (docs/deployment.md, section 2.1)" $mode (toString $v.replayApiKeySecret.name) (toString $v.replayApiKeySecret.key)) -}}
{{- else if ne $ctype "api" -}}
{{- fail (printf "replay.%s.client.type must be \"api\", got %q" $mode $ctype) -}}
{{- end -}}
{{- $apikey := dig "client" "options" "apikey" "" $side | toString -}}
{{- if and (contains "REPLAY_APIKEY" $apikey) (not $v.replayApiKeySecret.name) -}}
{{- fail (printf "replay.%s.client.options.apikey refers to ${REPLAY_APIKEY} but replayApiKeySecret.name is empty: name the Secret holding the API key" $mode) -}}
{{- end -}}
{{- range $key := list "working_directory" -}}
{{- $p := dig $key "" $side | toString -}}
{{- if not (hasPrefix "/" $p) -}}
{{- fail (printf "replay.%s.%s must be an absolute path, got %q" $mode $key $p) -}}
{{- end -}}
{{- end -}}
{{- if eq $mode "loader" -}}
{{- range $key := list "input_directory" "failed_directory" -}}
{{- $p := dig $key "" $side | toString -}}
{{- if not (hasPrefix "/" $p) -}}
{{- fail (printf "replay.loader.%s must be an absolute path, got %q" $key $p) -}}
{{- end -}}
{{- end -}}
{{- $found := false -}}
{{- range $vol := ($v.replayLoaderVolume | default list) -}}
{{- if eq (toString $vol.name) "replay-data" -}}{{- $found = true -}}{{- end -}}
{{- end -}}
{{- if not $found -}}
{{- fail "replayLoaderVolume has no volume named \"replay-data\": the loader pods mount that one at replay.loader.input_directory" -}}
{{- end -}}
{{- $paths := list "/tmp" $side.working_directory $side.failed_directory $side.input_directory -}}
{{- if ne (len (uniq $paths)) (len $paths) -}}
{{- fail (printf "replay.loader working_directory, failed_directory and input_directory must be distinct and not /tmp (got %s)" (join ", " (rest $paths))) -}}
{{- end -}}
{{- if eq (int $v.replayLoaderUser) 0 -}}
{{- fail "replayLoaderUser is 0 (root): the Replay pods run as non-root; use the uid that owns the input share" -}}
{{- end -}}
{{- else -}}
{{- if eq (toString $side.working_directory) "/tmp" -}}
{{- fail "replay.creator.working_directory must not be /tmp itself" -}}
{{- end -}}
{{- $out := include "replay.outputPath" . -}}
{{- if and $v.replayPersistence.output.enabled (not $out) -}}
{{- fail "replayPersistence.output.enabled needs a file:// replay.creator.output_filestore (other filestores need no volume)" -}}
{{- end -}}
{{- if and $out (or (eq $out "/tmp") (eq $out (toString $side.working_directory))) -}}
{{- fail (printf "the file:// output_filestore path %q must differ from /tmp and from replay.creator.working_directory" $out) -}}
{{- end -}}
{{- end -}}
{{- $min := int $v.replayWorkerInstances -}}
{{- $max := int $v.replayWorkerInstancesMax -}}
{{- if lt $max $min -}}
{{- fail (printf "replayWorkerInstancesMax (%d) is below replayWorkerInstances (%d)" $max $min) -}}
{{- end -}}
{{- if and (include "replay.useHPA" .) (lt $min 1) -}}
{{- fail (printf "replayWorkerInstances must be at least 1 with the CPU autoscaler (got %d); 0 is allowed with replayKeda.enabled" $min) -}}
{{- end -}}
{{- $target := int $v.replayTargetUsage -}}
{{- if or (lt $target 1) (gt $target 1000) -}}
{{- fail (printf "replayTargetUsage must be a CPU percentage between 1 and 1000, got %v" $v.replayTargetUsage) -}}
{{- end -}}
{{- if not $v.replayRedis.existingSecret -}}
{{- range $key := list "url" "persistentUrl" -}}
{{- $u := index $v.replayRedis $key | toString -}}
{{- if hasPrefix "rediss://" $u -}}
{{- fail (printf "replayRedis.%s uses rediss:// (TLS), which this build's hiredis cannot speak; reach a TLS Redis through a local TLS tunnel (docs/deployment.md)" $key) -}}
{{- else if not (hasPrefix "redis://" $u) -}}
{{- fail (printf "replayRedis.%s must be a redis:// URL" $key) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- if $v.replayKeda.enabled -}}
{{- if and $v.replayRedis.existingSecret (not $v.replayKeda.redisAddress) -}}
{{- fail "replayKeda.redisAddress (host:port) is required when replayRedis.existingSecret is set: the chart cannot read the URL from that Secret" -}}
{{- end -}}
{{- if and (not $v.replayKeda.redisAddress) (urlParse $v.replayRedis.url).userinfo (not $v.replayKeda.authenticationRef) -}}
{{- fail "replayRedis.url has a password: set replayKeda.authenticationRef to a KEDA TriggerAuthentication holding it" -}}
{{- end -}}
{{- if lt (int $v.replayKeda.listLength) 1 -}}
{{- fail "replayKeda.listLength must be at least 1" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* Volume mounts of one Replay container. Args: root, orchestrator (bool). */}}
{{- define "replay.volumeMounts" -}}
{{- $v := .root.Values -}}
{{- $side := fromYaml (include "replay.side" .root) -}}
- name: replay-config
  mountPath: /etc/assemblyline/replay.yml
  subPath: replay
  readOnly: true
{{- if $v.replayAssemblylineConfig.configMap }}
- name: al-config
  mountPath: /etc/assemblyline/config.yml
  subPath: {{ $v.replayAssemblylineConfig.key }}
  readOnly: true
{{- end }}
- name: tmp
  mountPath: /tmp
- name: replay-work
  mountPath: {{ $side.working_directory }}
{{- if eq $v.replayMode "loader" }}
- name: replay-failed
  mountPath: {{ $side.failed_directory }}
- name: replay-data
  mountPath: {{ $side.input_directory }}
{{- else if include "replay.outputPath" .root }}
- name: replay-output
  mountPath: {{ include "replay.outputPath" .root }}
{{- end }}
{{- with $v.coreMounts }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* One pod volume: a PVC when that persistence is on (and applies), else emptyDir. */}}
{{- define "replay.dirVolume" -}}
{{- $claim := "" -}}
{{- if .usePVC -}}{{- $claim = include "replay.claimName" . -}}{{- end -}}
- name: replay-{{ .what }}
{{- if $claim }}
  persistentVolumeClaim:
    claimName: {{ $claim }}
{{- else }}
  emptyDir: {}
{{- end }}
{{- end -}}

{{/* Volumes of one Replay pod. Args: root, orchestrator (bool). */}}
{{- define "replay.volumes" -}}
{{- $v := .root.Values -}}
- name: replay-config
  configMap:
    name: {{ include "replay.configMapName" .root }}
{{- if $v.replayAssemblylineConfig.configMap }}
- name: al-config
  configMap:
    name: {{ $v.replayAssemblylineConfig.configMap }}
{{- end }}
- name: tmp
  emptyDir:
{{- if $v.replayTmpSizeLimit }}
    sizeLimit: {{ $v.replayTmpSizeLimit }}
{{- else }} {}
{{- end }}
{{ include "replay.dirVolume" (dict "root" .root "what" "work" "usePVC" .orchestrator) }}
{{- if eq $v.replayMode "loader" }}
{{ include "replay.dirVolume" (dict "root" .root "what" "failed" "usePVC" true) }}
{{ toYaml $v.replayLoaderVolume }}
{{- else if include "replay.outputPath" .root }}
{{ include "replay.dirVolume" (dict "root" .root "what" "output" "usePVC" true) }}
{{- end }}
{{- with $v.coreVolumes }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* Environment of one Replay container. */}}
{{- define "replay.env" -}}
{{- $v := .Values -}}
- name: REPLAY_REDIS_URL
  valueFrom:
    secretKeyRef:
      name: {{ include "replay.redisSecretName" . }}
      key: {{ $v.replayRedis.urlKey }}
- name: REPLAY_REDIS_PERSISTENT_URL
  valueFrom:
    secretKeyRef:
      name: {{ include "replay.redisSecretName" . }}
      key: {{ $v.replayRedis.persistentUrlKey }}
{{- if $v.replayApiKeySecret.name }}
- name: REPLAY_APIKEY
  valueFrom:
    secretKeyRef:
      name: {{ $v.replayApiKeySecret.name }}
      key: {{ $v.replayApiKeySecret.key }}
{{- end }}
{{- with $v.coreEnv }}
{{ toYaml . }}
{{- end }}
{{- with $v.replayExtraEnv }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* Container securityContext: ours, then coreSecurityContext, then upstream's uid/gid. */}}
{{- define "replay.containerSecurityContext" -}}
{{- $v := .root.Values -}}
{{- $uid := 1000 -}}
{{- if eq $v.replayMode "loader" -}}{{- $uid = int $v.replayLoaderUser -}}{{- end -}}
{{- $sc := mergeOverwrite (deepCopy ($v.replaySecurityContext | default dict)) (deepCopy ($v.coreSecurityContext | default dict)) (dict "runAsUser" $uid "runAsGroup" 1000) -}}
{{- toYaml $sc -}}
{{- end -}}

{{/*
A Replay Deployment. Args: root, component (Deployment and container name),
orchestrator (bool: the singleton creator/loader), and the resource keys.
*/}}
{{- define "replay.deployment" -}}
{{- $root := .root -}}
{{- $v := $root.Values -}}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .component }}
  labels:
    {{- include "replay.labels" (dict "root" $root "component" .component) | nindent 4 }}
spec:
  {{- if .orchestrator }}
  # A singleton: two copies would queue the same work twice, so never two at once.
  replicas: 1
  strategy:
    type: Recreate
  {{- else if not (or (include "replay.useHPA" $root) $v.replayKeda.enabled) }}
  replicas: {{ int $v.replayWorkerInstances }}
  {{- end }}
  revisionHistoryLimit: {{ $v.revisionCount }}
  selector:
    matchLabels:
      {{- include "replay.selectorLabels" . | nindent 6 }}
  template:
    metadata:
      annotations:
        checksum/replay-config: {{ toYaml $v.replay | sha256sum }}
        {{- if not $v.replayRedis.existingSecret }}
        checksum/replay-redis: {{ printf "%s\n%s" $v.replayRedis.url $v.replayRedis.persistentUrl | sha256sum }}
        {{- end }}
        {{- with $v.replayPodAnnotations }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      labels:
        {{- include "replay.labels" (dict "root" $root "component" .component) | nindent 8 }}
        {{- with $v.coreLabels }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
    spec:
      {{- with $v.replayPriorityClassName }}
      priorityClassName: {{ . }}
      {{- end }}
      serviceAccountName: {{ $v.coreServiceAccountName }}
      automountServiceAccountToken: false
      terminationGracePeriodSeconds: {{ $v.replayTerminationGracePeriodSeconds }}
      securityContext:
        {{- toYaml $v.replayPodSecurityContext | nindent 8 }}
      {{- with $v.imagePullSecrets }}
      imagePullSecrets:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $v.nodeAffinity }}
      affinity:
        nodeAffinity:
          {{- toYaml . | nindent 10 }}
      {{- end }}
      {{- with $v.tolerations }}
      tolerations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      containers:
        - name: {{ .component }}
          image: {{ include "replay.image" $root }}
          imagePullPolicy: {{ $v.image.pullPolicy | default $v.imagePullPolicy }}
          command: [{{ .component | quote }}, "--config", "/etc/assemblyline/replay.yml"]
          securityContext:
            {{- include "replay.containerSecurityContext" . | nindent 12 }}
          env:
            {{- include "replay.env" $root | nindent 12 }}
          volumeMounts:
            {{- include "replay.volumeMounts" . | nindent 12 }}
          resources:
            requests:
              cpu: {{ .reqCPU }}
              memory: {{ .reqRam }}
            limits:
              cpu: {{ .limCPU }}
              memory: {{ .limRam }}
          livenessProbe:
            exec:
              command:
                - bash
                - "-c"
                - {{ $v.replayLivenessCommand | toJson }}
            initialDelaySeconds: 30
            periodSeconds: 30
        {{- with $v.replayExtraContainers }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      volumes:
        {{- include "replay.volumes" . | nindent 8 }}
{{- end -}}
