#!/usr/bin/env python3
"""speed_table.py — rewrites the README's speed table from the output of one
`make bench` run (saved with `make bench 2>&1 | tee bench.log`): the "table:"
rows the benchmarks print, under a line naming the CPU, its measured FMA peak
and the load average at the start and the end of the run. Only the part of the
README between the speed-table markers changes. Standard library only.
usage: bench/speed_table.py BENCH_LOG [README]   (--print: the block on stdout)"""
import re
import sys

BEGIN = "<!-- speed table: written by bench/speed_table.py from one `make bench` run -->"
END = "<!-- end of speed table -->"


def parse(log):
    info = {"rows": []}
    for line in log.splitlines():
        if "BENCH_LIMIT" in line or "BENCH_INFER_RUNS" in line:
            info["smoke"] = True
        if line.startswith("table: |"):
            info["rows"].append(line[len("table: "):].strip())
        elif m := re.match(r"bench start: (.*?); load average (\S+)", line):
            info["date"], info["load_start"] = m.group(1), m.group(2)
        elif m := re.match(r"bench end: .*?; load average (\S+)", line):
            info["load_end"] = m.group(1)
        elif m := re.match(r"cpu: (.*?) \| .*?: (.*?) \| (\d+) CPUs \| widest FMA: (.*)", line):
            info["cpu"], info["core"], info["cpus"], info["isa"] = m.groups()
        elif m := re.match(r"peak_gflops=(\S+)", line):
            info["peak"] = m.group(1)
        elif m := re.search(r"OMP_WAIT_POLICY=(\S+)", line):
            info["policy"] = m.group(1)
    return info


def block(info):
    missing = [k for k in ("date", "cpu", "load_start", "load_end") if k not in info]
    if missing or not info["rows"]:
        sys.exit(f"speed_table: the log lacks {', '.join(missing) or 'table: rows'}: "
                 "is it the whole output of one `make bench`?")
    policy = info.get("policy", "default")
    policy = "libgomp's default wait policy" if policy == "default" else f"OMP_WAIT_POLICY={policy}"
    peak = f", FMA peak {float(info['peak']):.0f} GFLOP/s measured" if info.get("peak") else ""
    smoke = (" **A smoke run (BENCH_LIMIT or BENCH_INFER_RUNS): training times are for part"
             " of an epoch.**") if info.get("smoke") else ""
    head = (f"One run of `make bench` on {info['date']}: {info['cpu']} ({info['core']}, "
            f"{info['cpus']} CPUs, {info['isa']}{peak}), load average {info['load_start']} at the "
            f"start and {info['load_end']} at the end; {policy}. Each framework runs at 1 and 2 "
            f"threads and keeps its best; ratios are deepc / reference, lower is better, unless "
            f"the row says otherwise.{smoke}")
    lines = [BEGIN, head, "", "| what | deepc | reference | ratio |", "|---|---|---|---|"]
    return "\n".join(lines + info["rows"] + [END])


def main():
    args = [a for a in sys.argv[1:] if a != "--print"]
    if not args:
        sys.exit(__doc__.split("\n")[-1])
    try:
        with open(args[0], encoding="utf-8") as f:
            new = block(parse(f.read()))
    except OSError as e:
        sys.exit(f"speed_table: {e}")
    if "--print" in sys.argv:
        print(new)
        return
    readme = args[1] if len(args) > 1 else "README.md"
    with open(readme, encoding="utf-8") as f:
        text = f.read()
    start, end = text.find(BEGIN), text.find(END)
    if start < 0 or end < start:
        sys.exit(f"speed_table: {readme} has no speed-table markers ({BEGIN} ... {END})")
    with open(readme, "w", encoding="utf-8") as f:
        f.write(text[:start] + new + text[end + len(END):])
    print(f"speed_table: {readme}: {len(new.splitlines()) - 5} rows")


if __name__ == "__main__":
    main()
