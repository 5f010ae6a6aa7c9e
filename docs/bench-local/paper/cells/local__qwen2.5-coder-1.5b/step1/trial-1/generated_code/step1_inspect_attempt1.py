import os
import sys
import uproot
import json

def inspect_files(input_files, output_files):
    os.makedirs(os.path.dirname(output_files), exist_ok=True)
    
    summary_json = {"files": {}}
    summary_txt = ""
    
    for input_file in input_files:
        try:
            file = uproot.open(input_file)
            tree_names = [name for name, cls in file.classnames(cycle=False).items() if cls.startswith("TTree")]
            summary_json["files"][input_file] = {"trees": {}}
            for tree_name in tree_names:
                tree = file[tree_name]
                summary_json["files"][input_file]["trees"][tree_name] = {
                    "entries": tree.num_entries,
                    "branches": [[branch.name, branch.typename] for branch in tree.branches]
                }
                summary_txt += f"{input_file}\n"
                summary_txt += f"Tree: {tree_name}\n"
                summary_txt += f"Entries: {tree.num_entries}\n"
                summary_txt += f"Branches: {', '.join([f'{branch.name}: {branch.typename}' for branch in tree.branches])}\n"
                summary_txt += "\n"
        except Exception as e:
            print(f"Error processing {input_file}: {e}")
            sys.exit(1)
    
    with open(output_files[0], 'w') as f:
        json.dump(summary_json, f, indent=4)
    
    with open(output_files[1], 'w') as f:
        f.write(summary_txt)

if __name__ == "__main__":
    import argparse
    parser = argparse.ArgumentParser(description="Inspect ROOT files and generate summary.")
    parser.add_argument("--input-files", nargs="+", help="Input ROOT files.")
    parser.add_argument("--output-files", nargs="+", help="Output files.")
    args = parser.parse_args()
    
    inspect_files(args.input_files, args.output_files)
