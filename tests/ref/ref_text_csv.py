# ref_text_csv.py — how Python's csv module reads tricky CSV and TSV text, for
# tests/test_text.c (dc_text_set_load_csv must read the same fields). Run by hand:
#   python3 tests/ref/ref_text_csv.py > tests/ref/data/text_csv.json
import csv
import io
import json

CASES = [
    ("comma", ",",
     'id,text,label\r\n'
     '1,"Hello, world",pos\r\n'
     '2,"two\nlines and ""quotes""",neg\n'
     '\n'
     '3,  spaced  ,pos\n'
     '4,"quoted"tail,neg\n'
     '5,mid"quote,pos\n'
     '6,"",neg\n'
     '7,"a\r\nb",pos\r'
     '8,last,neg'),
    ("tab", "\t",
     'label\ttext\n'
     '0\t"tab\tinside"\n'
     '1\tplain, with comma\n'
     '2\t""\n'),
]

out = []
for name, delim, text in CASES:
    rows = list(csv.DictReader(io.StringIO(text, newline=""), delimiter=delim))
    out.append({"name": name, "delimiter": delim, "text": text,
                "texts": [r["text"] for r in rows], "labels": [r["label"] for r in rows]})
print(json.dumps(out, indent=1))
