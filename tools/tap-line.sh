# Sourced by the shell TAP tests (tools/flash-input-test.sh, tools/install-deps-test.sh) from the
# repository's top: tap STATUS DESCRIPTION [FILE] prints the next numbered TAP line, "ok" when
# STATUS is 0, else "not ok" with FILE's lines as diagnostics; n counts the lines and failed the
# failures, for the plan and the exit status (exit $((failed > 0))).
n=0 failed=0
tap() {
	n=$((n + 1))
	if [ "$1" = 0 ]; then echo "ok $n - $2"; else
		echo "not ok $n - $2"
		failed=$((failed + 1))
		[ -n "${3:-}" ] && sed 's/^/#   /' "$3"
	fi
}
