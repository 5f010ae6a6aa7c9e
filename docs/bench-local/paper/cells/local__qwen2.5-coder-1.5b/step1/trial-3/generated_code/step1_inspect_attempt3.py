import os
import sys
import uproot
import json

def inspect_root_files(input_files, output_files):
    os.makedirs(os.path.dirname(output_files), exist_ok=True)
    
    summary = {"files": {}}
    
    for file_path in input_files:
        file_name = os.path.basename(file_path)
        tree_name = file_name.split(";1")[0]
        
        with uproot.open(file_path) as file:
            summary["files"][file_path] = {"trees": {tree_name: {"entries": file.num_entries, "branches": file.branches}}}
    
    with open(output_files[0], "w") as f:
        json.dump(summary, f, indent=4)
    
    with open(output_files[1], "w") as f:
        for file_path, data in summary["files"].items():
            f.write(f"File: {file_path}\n")
            f.write(f"Tree: {data['trees'][tree_name]['entries']} entries, {len(data['trees'][tree_name]['branches'])} branches\n")
            for branch_name, branch_type in data['trees'][tree_name]['branches']:
                f.write(f"Branch: {branch_name}, Type: {branch_type}\n")

if __name__ == "__main__":
    import argparse
    parser = argparse.ArgumentParser(description="Inspect ROOT files for a Higgs -> diphoton analysis.")
    parser.add_argument("--input-files", nargs="+", required=True, help="Input ROOT files.")
    parser.add_argument("--output-files", nargs="+", required=True, help="Output files.")
    args = parser.parse_args()
    
    inspect_root_files(args.input_files, args.output_files)
