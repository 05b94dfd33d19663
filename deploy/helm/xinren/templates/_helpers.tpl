{{/* Names, labels and the pieces every service's manifests share. */}}

{{- define "xinren.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 50 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "xinren.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
app.kubernetes.io/part-of: xinren
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end -}}

{{/* Selector labels of one service; call with (dict "root" $ "name" $name). */}}
{{- define "xinren.selector" -}}
app.kubernetes.io/name: {{ .name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
{{- end -}}

{{- define "xinren.image" -}}
{{- $img := .root.Values.image -}}
{{- $repo := printf "%s-%s" $img.prefix .name -}}
{{- if $img.registry }}{{ $repo = printf "%s/%s" $img.registry $repo }}{{ end -}}
{{- printf "%s:%s" $repo (default .root.Chart.AppVersion $img.tag) -}}
{{- end -}}

{{/* The environment every container of a service gets: Kafka, database URL, JWT secret, shared and own env. */}}
{{- define "xinren.env" -}}
{{- $v := .root.Values -}}
{{- $p := .svc.envPrefix -}}
- name: {{ $p }}ENV
  value: production
- name: {{ $p }}LOG_LEVEL
  value: {{ $v.logLevel | quote }}
- name: {{ $p }}KAFKA_BOOTSTRAP_SERVERS
  value: {{ required "kafka.bootstrapServers is required" $v.kafka.bootstrapServers | quote }}
- name: {{ $p }}KAFKA_PARTITIONS
  value: {{ $v.kafka.partitions | quote }}
- name: {{ $p }}KAFKA_REPLICATION_FACTOR
  value: {{ $v.kafka.replicationFactor | quote }}
- name: {{ $p }}KAFKA_MIN_INSYNC_REPLICAS
  value: {{ $v.kafka.minInsyncReplicas | quote }}
- name: {{ $p }}DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ required "secrets.name is required" $v.secrets.name }}
      key: {{ printf "%s%s" .name $v.secrets.databaseUrlKeySuffix }}
- name: {{ $p }}JWT_SECRET
  valueFrom:
    secretKeyRef:
      name: {{ $v.secrets.name }}
      key: {{ $v.secrets.jwtSecretKey }}
{{- if eq .name "notify" }}
- name: {{ $p }}WEBHOOK_SECRET_KEY
  valueFrom:
    secretKeyRef:
      name: {{ $v.secrets.name }}
      key: {{ $v.secrets.webhookSecretKey }}
{{- end }}
{{- range $key, $value := merge (dict) .svc.env $v.env }}
- name: {{ $key }}
  value: {{ $value | quote }}
{{- end }}
{{- end -}}
