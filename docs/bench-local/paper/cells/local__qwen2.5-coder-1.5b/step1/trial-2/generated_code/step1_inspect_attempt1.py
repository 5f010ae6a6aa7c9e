import os
import sys
import json
import uproot
from hepmini.tools import *

def inspect_files(input_files, output_files):
    os.makedirs(os.path.dirname(output_files), exist_ok=True)
    
    summary = {"files": {}}
    for file_path in input_files:
        try:
            file = uproot.open(file_path)
            tree_names = [name for name, cls in file.classnames(cycle=False).items() if cls.startswith("TTree")]
            summary["files"][file_path] = {"trees": {}}
            for tree_name in tree_names:
                tree = file[tree_name]
                summary["files"][file_path]["trees"][tree_name] = {
                    "entries": tree.num_entries,
                    "branches": [[branch.name, branch.typename] for branch in tree.branches]
                }
            print(f"Processed {file_path}")
        except Exception as e:
            print(f"Error processing {file_path}: {e}")
            sys.exit(1)
    
    with open(output_files[0], 'w') as f:
        json.dump(summary, f, indent=4)
    
    with open(output_files[1], 'w') as f:
        for file_path, tree_info in summary["files"].items():
            f.write(f"File: {file_path}\n")
            for tree_name, tree_data in tree_info["trees"].items():
                f.write(f"  Tree: {tree_name}\n")
                f.write(f"    Entries: {tree_data['entries']}\n")
                f.write(f"    Branches: {tree_data['branches']}\n")
            f.write("\n")

if __name__ == "__main__":
    import argparse
    parser = argparse.ArgumentParser(description="Inspect ROOT files and generate summary.")
    parser.add_argument("--input-files", nargs="+", help="Input ROOT files")
    parser.add_argument("--output-files", nargs="+", help="Output files")
    args = parser.parse_args()
    
    inspect_files(args.input_files, args.output_files)
