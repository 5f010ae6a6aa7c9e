import os
import sys
import uproot
import json

def inspect_roots(input_files, output_files):
    os.makedirs(os.path.dirname(output_files), exist_ok=True)
    
    summary = {"files": {}}
    
    for file_path in input_files:
        file_name = os.path.basename(file_path)
        summary["files"][file_name] = {"trees": {}}
        
        with uproot.open(file_path) as file:
            tree_names = [name for name, cls in file.classnames(cycle=False).items() if cls.startswith("TTree")]
            if len(tree_names) != 1:
                print(f"Error: {file_name} has more than one TTree.")
                sys.exit(1)
            tree_name = tree_names[0]
            
            summary["files"][file_name]["trees"][tree_name] = {
                "entries": tree.num_entries,
                "branches": [(branch.name, branch.typename) for branch in tree.branches]
            }
    
    with open(output_files[0], "w") as f:
        json.dump(summary, f, indent=4)
    
    with open(output_files[1], "w") as f:
        for file_name, data in summary["files"].items():
            f.write(f"File: {file_name}\n")
            f.write(f"Trees: {data['trees']}\n")
            f.write(f"Entries: {data['trees'][tree_name]['entries']}\n")
            f.write(f"Branches: {data['trees'][tree_name]['branches']}\n")
            f.write("\n")

if __name__ == "__main__":
    import argparse
    parser = argparse.ArgumentParser(description="Inspect ROOT files for a Higgs -> diphoton analysis.")
    parser.add_argument("--input-files", nargs="+", required=True, help="Input ROOT files.")
    parser.add_argument("--output-files", nargs="+", required=True, help="Output files.")
    args = parser.parse_args()
    
    inspect_roots(args.input_files, args.output_files)
