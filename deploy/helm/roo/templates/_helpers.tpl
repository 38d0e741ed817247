{{/* The release's name for its objects: the StatefulSet, the `roo` Service, and the pods' prefix. */}}
{{- define "roo.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 52 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 52 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 52 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* The headless Service through which the workers find each other (control and data ports). */}}
{{- define "roo.clusterService" -}}
{{- printf "%s-cluster" (include "roo.fullname" .) -}}
{{- end -}}

{{- define "roo.selectorLabels" -}}
app.kubernetes.io/name: {{ default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "roo.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{ include "roo.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{/* The Secret the chart makes for secrets given as values. */}}
{{- define "roo.secretName" -}}
{{- printf "%s-secrets" (include "roo.fullname" .) -}}
{{- end -}}

{{/*
Where a secret (clusterSecret or externalSecret) comes from: a dict with the Secret's name and key, or an empty one.
Fails, naming the values, when both a value and an existing Secret are given.
*/}}
{{- define "roo.secretSource" -}}
{{- $spec := index .root.Values.security .name -}}
{{- if and $spec.value $spec.existingSecret -}}
{{- fail (printf "security.%s: give either security.%s.value or security.%s.existingSecret, not both" .name .name .name) -}}
{{- end -}}
{{- if $spec.existingSecret -}}
{{- dict "secret" $spec.existingSecret "key" (required (printf "security.%s.key is required with security.%s.existingSecret (the key of the secret in that Secret)" .name .name) $spec.key) | toJson -}}
{{- else if $spec.value -}}
{{- dict "secret" (include "roo.secretName" .root) "key" .name | toJson -}}
{{- else -}}
{}
{{- end -}}
{{- end -}}

{{/* The TLS flags of roo run and roo ctl, when TLS is on. */}}
{{- define "roo.tlsFlags" -}}
{{- if .Values.security.tls.enabled -}}
["--tls-cert", "/etc/roo/tls/tls.crt", "--tls-key", "/etc/roo/tls/tls.key", "--tls-ca", "/etc/roo/tls/ca.crt"]
{{- else -}}
[]
{{- end -}}
{{- end -}}

{{/* The --in value: every source on the pod's listen address. */}}
{{- define "roo.inFlag" -}}
{{- $items := list -}}
{{- range $i, $source := .Values.app.sources -}}
{{- $name := required (printf "app.sources[%d].name is required (the source's name in the app, as in --in name@host:port)" $i) $source.name -}}
{{- $port := required (printf "app.sources[%d].port is required (the port the source listens on)" $i) $source.port -}}
{{- $items = append $items (printf "%s@$(ROO_LISTEN_HOST):%v" $name $port) -}}
{{- end -}}
{{- join "," $items -}}
{{- end -}}

{{/* The metrics endpoint's port (ports.metrics), 0 when it is off (0 or null). */}}
{{- define "roo.metricsPort" -}}
{{- int (default 0 .Values.ports.metrics) -}}
{{- end -}}

{{/*
What the startup and liveness probes check: GET /healthz on the metrics port, which the worker's metrics thread
answers even while the app's step runs long; without the metrics port, that the external port accepts connections
(the kernel accepts them while the worker is busy, too; and a connection closed unused, or during a TLS handshake,
leaves no warning in the log).
*/}}
{{- define "roo.healthCheck" -}}
{{- if ne (include "roo.metricsPort" .) "0" -}}
httpGet:
  path: /healthz
  port: metrics
{{- else -}}
tcpSocket:
  port: external
{{- end -}}
{{- end -}}
