#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# The Kubernetes API stand-in on its own, in a fabric namespace: auth,
# discovery, kubectl 1.20 create/get/label/apply/delete, chunked lists,
# watches (order, bookmarks, selectors, 410), and every fault a suite can inject.

load lib/node
load lib/apiserver

setup_file() {
	node_vars "$(sl_rand_hex)" "$BATS_FILE_TMPDIR/n"
	mkdir -p "$SL_SCRATCH" || return 1
	kubectl_ensure || return 1
	fabric_setup || return 1
	apiserver_start "$SL_FABRIC" "$SL_SCRATCH" --compaction-window 40 --bookmark-interval 0.3 --too-new-wait 1 || return 1
}

teardown_file() {
	apiserver_stop
	ip netns del "$SL_FABRIC" 2>/dev/null || true
}

setup() {
	apiserver_load "$SL_SCRATCH"
	W=$BATS_TEST_TMPDIR
}

teardown() {
	local p
	for p in "$W"/*.pid; do
		[ -e "$p" ] && kill "$(cat "$p")" 2>/dev/null
	done
	apiserver_fault '{"reset":true}' >/dev/null 2>&1 || true
	if [ -z "${BATS_TEST_COMPLETED:-}" ]; then
		echo "# stand-in stderr:" >&3
		tail -n 20 "$SL_API_DIR/stderr" | sed 's/^/#   /' >&3
		echo "# last requests:" >&3
		tail -n 15 "$SL_API_LOG" | sed 's/^/#   /' >&3
	fi
}

# req METHOD PATH [BODY [CONTENT-TYPE]]: sets CODE, BODY (file $W/body) and
# HDRS (file $W/hdrs); a request with the real token unless TOKEN is set.
req() {
	local tok=${TOKEN-$(apiserver_token)} args
	args=(-s --max-time 20 --cacert "$SL_API_CA" -X "$1" -o "$W/body" -D "$W/hdrs" -w '%{http_code}')
	[ -z "$tok" ] || args+=(-H "Authorization: Bearer $tok")
	[ -z "${3:-}" ] || args+=(-H "Content-Type: ${4:-application/json}" --data-binary "$3")
	CODE=$(nsenter --net="/run/netns/$SL_API_NS" curl "${args[@]}" "$SL_API_URL$2")
	BODY=$(cat "$W/body")
}

# watch_bg NAME PATH: streams a watch into $W/NAME.out in the background
# ($W/NAME.rc holds curl's exit status when it ends).
watch_bg() {
	(
		nsenter --net="/run/netns/$SL_API_NS" curl -sN --max-time 30 --cacert "$SL_API_CA" \
			-H "Authorization: Bearer $(apiserver_token)" "$SL_API_URL$2" >"$W/$1.out" && rc=0 || rc=$?
		echo "$rc" >"$W/$1.rc"
	) 3>&- &
	echo $! >"$W/$1.pid"
}

# wait_lines FILE N: until FILE has N lines (5 s at most).
# (wait_for must run where errexit is off, or its first failed try ends the test)
wait_lines() { wait_for 5 has_lines "$1" "$2" || return 1; }
has_lines() { [ "$(grep -c . "$1" 2>/dev/null)" -ge "$2" ]; }

wait_ended() { wait_for 8 test -e "$W/$1.rc" || return 1; }

# events FILE: "TYPE name rv" per line.
events() { jq -r '"\(.type) \(.object.metadata.name // "-") \(.object.metadata.resourceVersion)"' "$1"; }

rv_now() { apiserver_stats | jq -r .resourceVersion; }

watches_open() { [ "$(apiserver_stats | jq .openWatches)" -ge "$1" ]; }
watches_none() { [ "$(apiserver_stats | jq .openWatches)" -eq 0 ]; }

svc() { # svc NS NAME [LABELS-JSON]
	jq -cn --arg ns "$1" --arg n "$2" --argjson l "${3:-{\}}" \
		'{apiVersion:"v1",kind:"Service",metadata:{name:$n,namespace:$ns,labels:$l},spec:{ports:[{port:80}]}}'
}

mkns() { req POST /api/v1/namespaces "{\"metadata\":{\"name\":\"$1\"}}" && [ "$CODE" = 201 ]; }

@test "requests without the bearer token get a 401 Status" {
	TOKEN='' req GET /api/v1/services
	[ "$CODE" = 401 ]
	jq -e '.kind == "Status" and .code == 401 and .reason == "Unauthorized"' <<<"$BODY"
	TOKEN=wrong req GET /_sluice/stats
	[ "$CODE" = 401 ]
	sed "s/token: .*/token: nope/" "$SL_KUBECONFIG" >"$W/bad.kubeconfig"
	run nsenter --net="/run/netns/$SL_API_NS" "$SL_KUBECTL" --kubeconfig "$W/bad.kubeconfig" \
		--cache-dir "$W/cache" get svc
	[ "$status" -eq 1 ]
	[[ $output == *"You must be logged in to the server (Unauthorized)"* ]]
	req GET /api/v1/namespaces/default/services/kubernetes
	[ "$CODE" = 200 ]
}

@test "discovery: kubectl sees every resource; /version answers" {
	run kube api-resources --no-headers
	[ "$status" -eq 0 ]
	for r in "namespaces *ns *v1 *false *Namespace" "nodes *no *v1 *false *Node" "pods *po *v1 *true *Pod" \
		"services *svc *v1 *true *Service" "endpointslices *discovery.k8s.io/v1 *true *EndpointSlice" \
		"networkpolicies *netpol *networking.k8s.io/v1 *true *NetworkPolicy"; do
		grep -Eq "^$r\$" <<<"$output"
	done
	run kube version --short
	[[ $output == *"Server Version: v1.34.0-sluice"* ]]
	# a fresh cluster: system namespaces and the default/kubernetes Service + slice
	run kube get ns -o name
	[[ $output == *namespace/kube-system* ]]
	req GET /apis/discovery.k8s.io/v1/namespaces/default/endpointslices/kubernetes
	jq -e '.endpoints[0].addresses == ["172.18.0.1"] and .ports[0].port == 6443' <<<"$BODY"
}

@test "kubectl create, get, label, apply, delete a Service" {
	cat >"$W/svc.yaml" <<-EOF
		apiVersion: v1
		kind: Service
		metadata: {name: web, labels: {app: web, b: "1"}}
		spec:
		  selector: {app: web, tier: fe}
		  ports: [{port: 80, targetPort: 8080}, {port: 443, targetPort: 8443}]
	EOF
	run kube apply --validate=false -f "$W/svc.yaml"
	[ "$output" = "service/web created" ]
	run kube apply --validate=false -f "$W/svc.yaml"
	[ "$output" = "service/web unchanged" ]
	run kube get svc web -o json
	jq -e '.spec.clusterIP | test("^10\\.96\\.")' <<<"$output"
	jq -e '.spec.ports[0].protocol == "TCP" and .spec.type == "ClusterIP" and .metadata.uid != null' <<<"$output"
	ip=$(jq -r .spec.clusterIP <<<"$output")
	run kube label svc web k=v
	[ "$output" = "service/web labeled" ]
	run kube get svc -l k=v -o name
	[ "$output" = "service/web" ]
	# apply a change: label b dropped, port 80 dropped, 443 changed, 9090 added (strategic merge)
	cat >"$W/svc.yaml" <<-EOF
		apiVersion: v1
		kind: Service
		metadata: {name: web, labels: {app: web}}
		spec:
		  type: NodePort
		  selector: {app: web}
		  ports: [{port: 443, targetPort: 9443}, {name: metrics, port: 9090}]
	EOF
	run kube apply --validate=false -f "$W/svc.yaml"
	[ "$output" = "service/web configured" ]
	run kube get svc web -o json
	jq -e --arg ip "$ip" '.spec.clusterIP == $ip and .spec.type == "NodePort"' <<<"$output"
	jq -e '[.spec.ports[] | [.port, .targetPort]] == [[443, 9443], [9090, 9090]]' <<<"$output"
	jq -e '[.spec.ports[].nodePort | . >= 30000 and . <= 32767] == [true, true]' <<<"$output"
	jq -e '.metadata.labels == {app: "web", k: "v"} and .spec.selector == {app: "web"}' <<<"$output"
	run kube label svc web k-
	run kube get svc web -o json
	jq -e '.metadata.labels == {app: "web"}' <<<"$output"
	run kube create -f "$W/svc.yaml"
	[ "$status" -eq 1 ]
	[[ $output == *'(AlreadyExists)'*'services "web" already exists'* ]]
	run kube delete svc web
	[ "$output" = 'service "web" deleted' ]
	run kube get svc web
	[ "$status" -eq 1 ]
	[[ $output == *'(NotFound): services "web" not found'* ]]
}

@test "kubectl on every kind: namespaces, nodes, pods, endpointslices, networkpolicies" {
	cat >"$W/all.yaml" <<-EOF
		apiVersion: v1
		kind: Namespace
		metadata: {name: kinds}
		---
		apiVersion: v1
		kind: Node
		metadata: {name: n1, labels: {zone: a}}
		spec: {podCIDR: 10.244.1.0/24, podCIDRs: [10.244.1.0/24]}
		status: {addresses: [{type: InternalIP, address: 172.18.0.2}]}
		---
		apiVersion: v1
		kind: Pod
		metadata: {name: p1, namespace: kinds, labels: {app: a}}
		spec: {nodeName: n1, containers: [{name: c, image: x, ports: [{name: http, containerPort: 80}]}]}
		status: {podIP: 10.244.1.5, podIPs: [{ip: 10.244.1.5}]}
		---
		apiVersion: v1
		kind: Pod
		metadata: {name: p2, namespace: kinds, labels: {app: b}}
		spec: {nodeName: n2, containers: [{name: c, image: x}]}
		---
		apiVersion: discovery.k8s.io/v1
		kind: EndpointSlice
		metadata: {name: web-1, namespace: kinds, labels: {kubernetes.io/service-name: web}}
		addressType: IPv4
		endpoints: [{addresses: [10.244.1.5], nodeName: n1}]
		ports: [{name: http, port: 80}]
		---
		apiVersion: networking.k8s.io/v1
		kind: NetworkPolicy
		metadata: {name: deny, namespace: kinds}
		spec: {podSelector: {matchLabels: {app: a}}, ingress: [{from: [{podSelector: {}}]}]}
	EOF
	run kube apply --validate=false -f "$W/all.yaml"
	[ "$status" -eq 0 ]
	[ "$(grep -c created <<<"$output")" -eq 6 ]
	run kube get pods -A --field-selector spec.nodeName=n1 -o name
	[ "$output" = "pod/p1" ]
	run kube get pods -n kinds -l 'app in (a,b),app!=b' -o name
	[ "$output" = "pod/p1" ]
	run kube get nodes -o json
	jq -e '.items[0].spec.podCIDR == "10.244.1.0/24" and .items[0].status.addresses[0].address == "172.18.0.2"' <<<"$output"
	run kube get endpointslices -n kinds web-1 -o json
	jq -e '.endpoints[0].conditions == {} and .ports[0].protocol == "TCP"' <<<"$output"
	run kube get netpol -n kinds deny -o json
	jq -e '.spec.policyTypes == ["Ingress"]' <<<"$output"
	run kube label pod -n kinds p2 app=c --overwrite
	[ "$output" = "pod/p2 labeled" ]
	run kube get ns kinds -o json
	jq -e '.metadata.labels["kubernetes.io/metadata.name"] == "kinds"' <<<"$output"
	# deleting the namespace deletes what is in it
	run kube delete ns kinds
	[ "$status" -eq 0 ]
	run kube get pods -A -o name
	[ -z "$output" ]
	run kube delete node n1
	[ "$status" -eq 0 ]
}

@test "NetworkPolicy: policyTypes and protocol defaulted as SetDefaults_NetworkPolicy, bad rules 422" {
	mkns np
	# empty policyTypes is defaulted like an absent one; egress rules add Egress
	req POST /apis/networking.k8s.io/v1/namespaces/np/networkpolicies \
		'{"metadata":{"name":"e"},"spec":{"podSelector":{},"policyTypes":[],"egress":[{"ports":[{"port":80},{"port":"serve-81-udp","protocol":"UDP"}]}]}}'
	[ "$CODE" = 201 ]
	jq -e '.spec.policyTypes == ["Ingress","Egress"] and .spec.egress[0].ports[0].protocol == "TCP"
		and .spec.egress[0].ports[1].protocol == "UDP"' <<<"$BODY"
	req POST /apis/networking.k8s.io/v1/namespaces/np/networkpolicies \
		'{"metadata":{"name":"eg"},"spec":{"podSelector":{},"policyTypes":["Egress"]}}'
	[ "$CODE" = 201 ]
	jq -e '.spec.policyTypes == ["Egress"]' <<<"$BODY"
	local bad
	for bad in '{"podSelector":{},"policyTypes":["Sideways"]}' \
		'{"podSelector":{},"ingress":[{"ports":[{"port":80,"protocol":"ICMP"}]}]}' \
		'{"podSelector":{},"ingress":[{"ports":[{"port":81,"endPort":80}]}]}' \
		'{"podSelector":{},"ingress":[{"ports":[{"port":"http","endPort":90}]}]}' \
		'{"podSelector":{},"ingress":[{"from":[{"ipBlock":{"cidr":"10.0.0.0/33"}}]}]}' \
		'{"podSelector":{},"ingress":[{"from":[{"ipBlock":{"cidr":"10.0.0.0/8","except":["11.0.0.0/16"]}}]}]}' \
		'{"podSelector":{},"ingress":[{"from":[{"ipBlock":{"cidr":"10.0.0.0/8"},"podSelector":{}}]}]}' \
		'{"podSelector":{},"egress":[{"to":[{}]}]}' \
		'{"podSelector":{"matchLabels":{"ns":true}}}' \
		'{"podSelector":{},"ingress":[{"from":[{"namespaceSelector":{"matchExpressions":[{"key":"ns","operator":"In"}]}}]}]}'; do
		req POST /apis/networking.k8s.io/v1/namespaces/np/networkpolicies "{\"metadata\":{\"name\":\"bad\"},\"spec\":$bad}"
		[ "$CODE" = 422 ] || { echo "accepted: $bad"; return 1; }
		jq -e '.reason == "Invalid"' <<<"$BODY"
	done
}

@test "REST: 409 AlreadyExists, generateName, PUT conflicts, no-op patch, 422, 404" {
	mkns rest
	req POST /api/v1/namespaces/rest/services "$(svc rest a)"
	[ "$CODE" = 201 ]
	rv=$(jq -r .metadata.resourceVersion <<<"$BODY")
	req POST /api/v1/namespaces/rest/services "$(svc rest a)"
	[ "$CODE" = 409 ]
	jq -e '.reason == "AlreadyExists" and .details.name == "a" and .details.kind == "services"' <<<"$BODY"
	req POST /api/v1/namespaces/rest/services \
		'{"metadata":{"generateName":"gen-"},"spec":{"ports":[{"port":1}]}}'
	[ "$CODE" = 201 ]
	jq -e '.metadata.name | test("^gen-[a-z0-9]{5}$")' <<<"$BODY"
	# PUT with a stale resourceVersion: 409 Conflict; with the current one: a new RV
	req GET /api/v1/namespaces/rest/services/a
	obj=$(jq -c '.metadata.labels = {x: "1"}' <<<"$BODY")
	req PUT /api/v1/namespaces/rest/services/a "$(jq -c '.metadata.resourceVersion = "1"' <<<"$obj")"
	[ "$CODE" = 409 ]
	jq -e '.reason == "Conflict"' <<<"$BODY"
	req PUT /api/v1/namespaces/rest/services/a "$obj"
	[ "$CODE" = 200 ]
	rv2=$(jq -r .metadata.resourceVersion <<<"$BODY")
	[ "$rv2" -gt "$rv" ]
	# a patch that changes nothing does not make a new resourceVersion
	req PATCH /api/v1/namespaces/rest/services/a '{}' application/merge-patch+json
	[ "$CODE" = 200 ] && [ "$(jq -r .metadata.resourceVersion <<<"$BODY")" = "$rv2" ]
	req PATCH /api/v1/namespaces/rest/services/a '[{"op":"add","path":"/metadata/labels/y","value":"2"}]' \
		application/json-patch+json
	jq -e '.metadata.labels == {x: "1", y: "2"}' <<<"$BODY"
	req PATCH /api/v1/namespaces/rest/services/a 'x: 1' application/apply-patch+yaml
	[ "$CODE" = 415 ]
	# validation: a port out of range is 422 Invalid with the field named
	req POST /api/v1/namespaces/rest/services '{"metadata":{"name":"bad"},"spec":{"ports":[{"port":0}]}}'
	[ "$CODE" = 422 ]
	jq -e '.reason == "Invalid" and .details.causes[0].field == "spec.ports[0].port"' <<<"$BODY"
	req POST /api/v1/namespaces/nope/services "$(svc nope a)"
	[ "$CODE" = 404 ]
	jq -e '.reason == "NotFound" and .message == "namespaces \"nope\" not found"' <<<"$BODY"
	req GET /api/v1/namespaces/rest/services/zz
	[ "$CODE" = 404 ]
	# deletecollection by label
	req DELETE '/api/v1/namespaces/rest/services?labelSelector=x%3D1'
	[ "$CODE" = 200 ]
	jq -e '.kind == "ServiceList" and [.items[].metadata.name] == ["a"]' <<<"$BODY"
}

@test "chunked list: limit + continue over a consistent snapshot" {
	mkns page
	for i in $(seq -w 1 25); do svc page "s$i" '{"set":"p"}'; done | jq -s '{apiVersion:"v1",kind:"List",items:.}' >"$W/list.json"
	run kube create -f "$W/list.json"
	[ "$status" -eq 0 ]
	req GET '/api/v1/namespaces/page/services?limit=10'
	[ "$CODE" = 200 ]
	jq -e '.kind == "ServiceList" and (.items | length) == 10 and .metadata.remainingItemCount == 15' <<<"$BODY"
	jq -e '.items[0] | has("kind") | not' <<<"$BODY"
	rv=$(jq -r .metadata.resourceVersion <<<"$BODY")
	tok=$(jq -r .metadata.continue <<<"$BODY")
	# a write between pages does not show up in the snapshot
	req POST /api/v1/namespaces/page/services "$(svc page s99)"
	req DELETE /api/v1/namespaces/page/services/s25
	req GET "/api/v1/namespaces/page/services?limit=10&continue=$tok"
	jq -e --arg rv "$rv" '.metadata.resourceVersion == $rv and (.items | length) == 10' <<<"$BODY"
	tok=$(jq -r .metadata.continue <<<"$BODY")
	req GET "/api/v1/namespaces/page/services?limit=10&continue=$tok"
	jq -e '[.items[].metadata.name] == ["s21","s22","s23","s24","s25"] and (.metadata | has("continue") | not)' <<<"$BODY"
	# selectors apply per page; remainingItemCount is left out with a selector
	req GET '/api/v1/services?limit=4&labelSelector=set%3Dp'
	jq -e '(.items | length) == 4 and (.metadata | has("remainingItemCount") | not)' <<<"$BODY"
	# kubectl follows continue tokens itself
	run kube get svc -n page --chunk-size=7 -o name
	[ "$(wc -l <<<"$output")" -eq 25 ]
	# RV + continue is a 400, resourceVersionMatch without RV a 422
	req GET "/api/v1/services?limit=10&continue=$tok&resourceVersion=5"
	[ "$CODE" = 400 ]
	req GET "/api/v1/services?resourceVersionMatch=Exact"
	[ "$CODE" = 422 ]
	# an Exact list of an older RV shows the old state; a future RV is a 504
	req GET "/api/v1/namespaces/page/services?resourceVersion=$rv&resourceVersionMatch=Exact"
	jq -e '(.items | length) == 25 and ([.items[].metadata.name] | index("s99") == null)' <<<"$BODY"
	req GET "/api/v1/services?resourceVersion=999999&limit=1"
	[ "$CODE" = 504 ]
	grep -qi '^retry-after: 1' "$W/hdrs"
	jq -e '.details.causes[0].reason == "ResourceVersionTooLarge"' <<<"$BODY"
}

@test "continue token of a compacted RV: 410 Expired, then an inconsistent continue" {
	req POST /api/v1/namespaces/default/services "$(svc default later)"
	req GET '/api/v1/namespaces/default/services?limit=1'
	tok=$(jq -r .metadata.continue <<<"$BODY")
	[ -n "$tok" ] && [ "$tok" != null ]
	# compaction keeps the RV it compacts at readable: move on one write first
	req PATCH /api/v1/namespaces/default/services/later '{"metadata":{"labels":{"n":"1"}}}' \
		application/merge-patch+json
	apiserver_fault '{"compact":true}'
	req GET "/api/v1/namespaces/default/services?limit=1&continue=$tok"
	[ "$CODE" = 410 ]
	jq -e '.kind == "Status" and .code == 410 and .reason == "Expired"' <<<"$BODY"
	tok2=$(jq -r .metadata.continue <<<"$BODY")
	req GET "/api/v1/namespaces/default/services?limit=5&continue=$tok2"
	[ "$CODE" = 200 ]
	jq -e '[.items[].metadata.name] == ["later"]' <<<"$BODY"
	# an Exact list of a compacted RV is a 410 too
	req GET "/api/v1/services?resourceVersion=2&limit=5"
	[ "$CODE" = 410 ]
	req DELETE /api/v1/namespaces/default/services/later
}

@test "watch from a resourceVersion: ADDED, MODIFIED, DELETED in order; kubectl get -w" {
	mkns w
	rv=$(rv_now)
	watch_bg w "/api/v1/namespaces/w/services?watch=1&resourceVersion=$rv&timeoutSeconds=20"
	(timeout 4 nsenter --net="/run/netns/$SL_API_NS" "$SL_KUBECTL" --kubeconfig "$SL_KUBECONFIG" \
		--cache-dir "$SL_API_DIR/kube-cache" get svc -n w -w --output-watch-events >"$W/kw.out" 2>&1) 3>&- &
	sleep 1
	req POST /api/v1/namespaces/w/services "$(svc w one)"
	req PATCH /api/v1/namespaces/w/services/one '{"metadata":{"labels":{"v":"2"}}}' application/merge-patch+json
	req DELETE /api/v1/namespaces/w/services/one
	req POST /api/v1/namespaces/default/services "$(svc default other)" # not in this namespace
	wait_lines "$W/w.out" 3
	run events "$W/w.out"
	echo "$output"
	[ "${#lines[@]}" -eq 3 ]
	[[ ${lines[0]} == "ADDED one "* ]] && [[ ${lines[1]} == "MODIFIED one "* ]] && [[ ${lines[2]} == "DELETED one "* ]]
	mapfile -t r < <(awk '{print $3}' <<<"$output")
	[ "${r[0]}" -gt "$rv" ] && [ "${r[1]}" -gt "${r[0]}" ] && [ "${r[2]}" -gt "${r[1]}" ]
	# DELETED carries the last state
	jq -se '.[2].object.metadata.labels.v == "2" and .[2].object.kind == "Service"' "$W/w.out"
	# a later watch from the same RV replays the same events from history
	req GET "/api/v1/namespaces/w/services?watch=1&resourceVersion=$rv&timeoutSeconds=1"
	[ "$(events "$W/body" | cut -d' ' -f1 | tr '\n' ' ')" = "ADDED MODIFIED DELETED " ]
	wait_for 8 grep -q 'DELETED *one' "$W/kw.out" || false
	grep -q 'ADDED *one' "$W/kw.out"
	req DELETE /api/v1/namespaces/default/services/other
}

@test "bookmarks carry the current RV; timeoutSeconds ends the stream normally" {
	mkns bm
	start=$(date +%s%N)
	req GET "/api/v1/namespaces/bm/services?watch=1&allowWatchBookmarks=true&resourceVersion=$(rv_now)&timeoutSeconds=2"
	end=$(date +%s%N)
	[ "$CODE" = 200 ]
	grep -qi '^transfer-encoding: chunked' "$W/hdrs"
	ms=$(((end - start) / 1000000))
	[ "$ms" -ge 1900 ] && [ "$ms" -lt 4000 ]
	n=$(jq -s '[.[] | select(.type == "BOOKMARK")] | length' "$W/body")
	[ "$n" -ge 3 ]
	jq -se --arg rv "$(rv_now)" '.[-1].object.metadata.resourceVersion == $rv and .[-1].object.kind == "Service"' "$W/body"
	# RV 0: synthetic ADDED for what exists, then the initial-events-end bookmark
	req GET "/api/v1/namespaces/default/services?watch=1&allowWatchBookmarks=true&resourceVersion=0&timeoutSeconds=1"
	jq -se '.[0].type == "ADDED" and .[0].object.metadata.name == "kubernetes"' "$W/body"
	jq -se '.[1].type == "BOOKMARK" and .[1].object.metadata.annotations["k8s.io/initial-events-end"] == "true"' "$W/body"
}

@test "watch from a compacted RV: one ERROR event with a 410 Status, then the end" {
	rv=$(rv_now)
	req POST /api/v1/namespaces/default/services "$(svc default c1)"
	req DELETE /api/v1/namespaces/default/services/c1
	apiserver_fault '{"compact":true}'
	req GET "/api/v1/services?watch=1&resourceVersion=$rv"
	[ "$CODE" = 200 ]
	[ "$(grep -c . "$W/body")" -eq 1 ]
	jq -e '.type == "ERROR" and .object.kind == "Status" and .object.code == 410 and .object.reason == "Expired"' "$W/body"
	# a live watch that is behind when history is compacted ends the same way
	n=$(apiserver_stats | jq .openWatches)
	watch_bg old "/api/v1/namespaces/kube-public/services?watch=1&resourceVersion=$(rv_now)"
	wait_for 5 watches_open $((n + 1)) || false
	apiserver_fault '{"slowStreamMs":1500}'
	req POST /api/v1/namespaces/kube-public/services "$(svc kube-public x1)"
	sleep 0.2 # the watcher is now sending x1, slowly
	req POST /api/v1/namespaces/kube-public/services "$(svc kube-public x2)"
	apiserver_fault '{"compact":true}'
	wait_ended old || { cat "$W/old.out" >&3; false; }
	[ "$(cat "$W/old.rc")" = 0 ]
	run events "$W/old.out"
	[[ ${lines[0]} == "ADDED x1 "* ]] && [ "${#lines[@]}" -eq 2 ]
	jq -se '.[-1].type == "ERROR" and .[-1].object.code == 410' "$W/old.out"
	kube delete svc -n kube-public --all --wait=false >/dev/null
}

@test "label and field selectors apply to watches (objects entering and leaving)" {
	mkns sel
	rv=$(rv_now)
	watch_bg s "/api/v1/namespaces/sel/services?watch=1&resourceVersion=$rv&labelSelector=app%3Da&timeoutSeconds=15"
	watch_bg f "/api/v1/services?watch=1&resourceVersion=$rv&fieldSelector=metadata.name%3Dy,metadata.namespace%3Dsel&timeoutSeconds=15"
	sleep 0.3
	req POST /api/v1/namespaces/sel/services "$(svc sel x '{"app":"b"}')"
	req POST /api/v1/namespaces/sel/services "$(svc sel y '{"app":"a"}')"
	req PATCH /api/v1/namespaces/sel/services/y '{"metadata":{"labels":{"app":"b"}}}' application/merge-patch+json
	req PATCH /api/v1/namespaces/sel/services/x '{"metadata":{"labels":{"app":"a"}}}' application/merge-patch+json
	wait_lines "$W/s.out" 3
	wait_lines "$W/f.out" 2
	run events "$W/s.out"
	[ "$(cut -d' ' -f1,2 <<<"$output" | tr '\n' ' ')" = "ADDED y DELETED y ADDED x " ]
	run events "$W/f.out"
	[ "$(cut -d' ' -f1,2 <<<"$output" | tr '\n' ' ')" = "ADDED y MODIFIED y " ]
	req GET '/api/v1/services?labelSelector=app+notin+(b),!nope'
	jq -e '[.items[].metadata.name] | index("x") != null and index("y") == null' <<<"$BODY"
	req GET '/api/v1/services?labelSelector=app+in+(a'
	[ "$CODE" = 400 ]
	req GET '/api/v1/pods?fieldSelector=spec.bogus%3D1'
	[ "$CODE" = 400 ]
}

@test "faults: 429 with Retry-After, 500 with a Status, for exactly N requests" {
	apiserver_fault '{"status429":{"count":2,"retryAfter":3}}'
	req GET /api/v1/nodes
	[ "$CODE" = 429 ]
	grep -qi '^retry-after: 3' "$W/hdrs"
	[[ $BODY == "Too many requests, please try again later." ]]
	req GET /api/v1/nodes
	[ "$CODE" = 429 ]
	apiserver_stats >/dev/null # test controls are never failed
	req GET /api/v1/nodes
	[ "$CODE" = 200 ]
	apiserver_fault '{"status500":{"count":1}}'
	req GET /api/v1/nodes
	[ "$CODE" = 500 ]
	jq -e '.kind == "Status" and .code == 500 and .reason == "InternalError"' <<<"$BODY"
	req GET /api/v1/nodes
	[ "$CODE" = 200 ]
	apiserver_stats | jq -e '.status429 >= 2 and .status500 >= 1'
	# bad fault requests are refused and change nothing
	run apiserver_fault '{"status429":{"count":-1}}'
	[ "$status" -ne 0 ]
	run apiserver_fault '{"dropWatch":true}'
	[ "$status" -ne 0 ]
	req GET /api/v1/nodes
	[ "$CODE" = 200 ]
}

@test "faults: dropWatches ends every open watch; slowStreamMs paces events" {
	n=$(apiserver_stats | jq .openWatches)
	watch_bg d1 "/api/v1/services?watch=1&allowWatchBookmarks=true"
	watch_bg d2 "/api/v1/pods?watch=1&resourceVersion=$(rv_now)"
	wait_for 5 watches_open $((n + 2)) || false
	run apiserver_fault '{"dropWatches":true}'
	[ "$status" -eq 0 ]
	jq -e '.dropped >= 2' <<<"$output"
	wait_ended d1
	wait_ended d2
	# dropped, not ended: curl sees the chunked body cut off
	[ "$(cat "$W/d1.rc")" != 0 ] && [ "$(cat "$W/d2.rc")" != 0 ]
	wait_for 3 watches_none || false
	# slow streams: 4 namespaces at 300 ms each take over a second
	apiserver_fault '{"slowStreamMs":300}'
	start=$(date +%s%N)
	req GET "/api/v1/namespaces?watch=1&timeoutSeconds=1"
	[ "$(jq -s 'length' "$W/body")" -ge 4 ]
	[ $((($(date +%s%N) - start) / 1000000)) -ge 1200 ]
}

@test "raw objects bypass validation (malformed-object tests) and reach watchers" {
	rv=$(rv_now)
	cat >"$W/raw.json" <<-EOF
		{"objects":[{"apiVersion":"v1","kind":"Service","metadata":{"name":"broken","namespace":"default"},
		             "spec":{"ports":"not-a-list","clusterIP":17}}]}
	EOF
	run apiserver_objects "$W/raw.json"
	[ "$status" -eq 0 ]
	req GET "/api/v1/namespaces/default/services?watch=1&resourceVersion=$rv&timeoutSeconds=1"
	jq -e 'select(.object.metadata.name == "broken") | .object.spec.ports == "not-a-list"' "$W/body"
	req DELETE /api/v1/namespaces/default/services/broken
	[ "$CODE" = 200 ]
	# a line that is not JSON, sent to open watches
	n=$(apiserver_stats | jq .openWatches)
	watch_bg g "/api/v1/nodes?watch=1&resourceVersion=$(rv_now)&timeoutSeconds=2"
	wait_for 5 watches_open $((n + 1)) || false
	apiserver_fault '{"watchGarbage":"this is not json"}' >/dev/null
	wait_ended g
	[ "$(cat "$W/g.out")" = "this is not json" ]
}
