import os
import sys
import uproot
import awkward as ak
import json

def inspect_root_files(input_files, output_files):
    os.makedirs(output_files, exist_ok=True)
    
    summary = {"files": {}}
    
    for file_path in input_files:
        file_name = os.path.basename(file_path)
        tree_name = "mini"
        
        try:
            with uproot.open(file_path) as file:
                tree = file[tree_name]
                
                summary["files"][file_name] = {
                    "trees": {
                        tree_name: {
                            "entries": tree.num_entries,
                            "branches": [
                                [branch.name, branch.typename] for branch in tree.branches
                            ]
                        }
                    }
                }
                
                print(f"File: {file_name}")
                print(f"Tree: {tree_name}")
                print(f"Entries: {tree.num_entries}")
                print(f"Branches: {summary['files'][file_name]['trees'][tree_name]['branches']}")
                
        except Exception as e:
            print(f"Error processing file {file_name}: {e}")
            sys.exit(1)
    
    with open(output_files + "/summary.json", "w") as f:
        json.dump(summary, f, indent=4)
    
    with open(output_files + "/summary.txt", "w") as f:
        for file_name, file_info in summary["files"].items():
            f.write(f"File: {file_name}\n")
            f.write(f"Tree: {file_info['trees'][tree_name]['entries']}\n")
            f.write(f"Branches: {file_info['trees'][tree_name]['branches']}\n")
            f.write("\n")

if __name__ == "__main__":
    import argparse
    parser = argparse.ArgumentParser(description="Inspect ROOT files for a Higgs -> diphoton analysis.")
    parser.add_argument("--input-files", nargs="+", required=True, help="Input ROOT files.")
    parser.add_argument("--output-files", required=True, help="Output directory for the summary.")
    args = parser.parse_args()
    
    inspect_root_files(args.input_files, args.output_files)
