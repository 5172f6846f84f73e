"""Parses `keyward metrics` output (a file, or stdin) with the
prometheus_client package's OpenMetrics parser, which rejects anything the
format does not allow (a missing `# EOF`, a counter sample without
`_total`, a bad label escape, a repeated family), and prints the samples as
JSON: [{"name": …, "labels": {…}, "value": …}, …].

Exit 77 when prometheus_client is missing (the test fails under CI=true).
"""

import json
import sys

try:
    from prometheus_client.openmetrics.parser import text_string_to_metric_families
except ImportError:
    print("SKIP: the prometheus_client Python package is not installed", file=sys.stderr)
    sys.exit(77)

text = open(sys.argv[1]).read() if len(sys.argv) > 1 else sys.stdin.read()
samples = []
for family in text_string_to_metric_families(text):
    for s in family.samples:
        samples.append(
            {"family": family.name, "type": family.type, "name": s.name,
             "labels": s.labels, "value": s.value}
        )
print(json.dumps(samples))
