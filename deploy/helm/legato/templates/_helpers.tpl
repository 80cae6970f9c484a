{{/* Names and labels. */}}
{{- define "legato.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "legato.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* Selector labels of one component: (dict "ctx" $ "component" "worker"). */}}
{{- define "legato.selectorLabels" -}}
app.kubernetes.io/name: {{ include "legato.name" .ctx }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "legato.labels" -}}
{{ include "legato.selectorLabels" . }}
app.kubernetes.io/part-of: legato
app.kubernetes.io/version: {{ .ctx.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .ctx.Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .ctx.Chart.Name .ctx.Chart.Version | replace "+" "_" }}
{{- end -}}

{{- define "legato.image" -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) -}}
{{- end -}}

{{- define "legato.configName" -}}{{ include "legato.fullname" . }}-config{{- end -}}

{{- define "legato.secretName" -}}
{{- .Values.existingSecret | default (printf "%s-secrets" (include "legato.fullname" .)) -}}
{{- end -}}

{{/* The settings checked once: each variable in one place. */}}
{{- define "legato.checkSettings" -}}
{{- range $key, $_ := .Values.config -}}
{{- if and (not $.Values.existingSecret) (hasKey $.Values.secrets $key) -}}
{{- fail (printf "values: %s is in both config and secrets; keep it in one (secrets if it carries a password)" $key) -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* envFrom of every Legato container. */}}
{{- define "legato.envFrom" -}}
- configMapRef: {name: {{ include "legato.configName" . }}}
- secretRef: {name: {{ include "legato.secretName" . }}}
{{- end -}}

{{- define "legato.podSpecCommon" -}}
securityContext: {{- toYaml .Values.podSecurityContext | nindent 2 }}
{{- with .Values.imagePullSecrets }}
imagePullSecrets: {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{/* Kafka settings read from config.LEGATO_KAFKA for the KEDA trigger. */}}
{{- define "legato.kafkaUrl" -}}
{{- $url := index .Values.config "LEGATO_KAFKA" | default "" -}}
{{- if not $url -}}
{{- fail "values: autoscaling.keda needs bootstrapServers when LEGATO_KAFKA is not in config (a URL with credentials lives in the Secret)" -}}
{{- end -}}
{{- $url -}}
{{- end -}}

{{- define "legato.kafkaQuery" -}}
{{- $parts := splitList "?" .url -}}
{{- $query := rest $parts | join "?" -}}
{{- $found := .default -}}
{{- range splitList "&" $query -}}
{{- if hasPrefix (printf "%s=" $.key) . -}}{{- $found = trimPrefix (printf "%s=" $.key) . -}}{{- end -}}
{{- end -}}
{{- $found -}}
{{- end -}}
