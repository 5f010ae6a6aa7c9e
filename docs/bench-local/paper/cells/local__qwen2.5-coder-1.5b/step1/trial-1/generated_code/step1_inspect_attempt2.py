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
                
                print(f"File: {file_path}, Tree: {tree_name}, Entries: {tree.num_entries}, Branches: {summary['files'][file_path]['trees'][tree_name]['branches']}")
                
            with open(output_files, "w") as f:
                json.dump(summary, f, indent=4)
                print(f"Summary written to {output_files}")
        except Exception as e:
            print(f"Error processing {file_path}: {e}")
            sys.exit(1)

if __name__ == "__main__":
    import argparse
    parser = argparse.ArgumentParser(description="Inspect ROOT files for TTree metadata.")
    parser.add_argument("--input-files", nargs="+", required=True, help="Input ROOT files.")
    parser.add_argument("--output-files", nargs="+", required=True, help="Output files.")
    args = parser.parse_args()
    
    inspect_files(args.input_files, args.output_files)
