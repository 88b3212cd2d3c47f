"""One Work Queue task: runs inside the environment animica-env built for it
(tabulate from conda, six from pip), on whichever worker it lands on."""

import sys

import six
import tabulate

n = int(sys.argv[1])
rows = [[i, i * i, six.text_type(i)[::-1]] for i in range(n, n + 3)]
print(tabulate.tabulate(rows, headers=["i", "i^2", "rev"], tablefmt="plain"))
print("prefix", sys.prefix)
