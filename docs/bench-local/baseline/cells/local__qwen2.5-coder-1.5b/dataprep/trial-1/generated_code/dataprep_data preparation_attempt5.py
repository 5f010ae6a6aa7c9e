import os
import sys
import uproot
import awkward as ak
import json

# PART 1: INSPECT ROOT FILES

def inspect_root_files(input_files, output_dir):
    if not os.path.exists(output_dir):
        os.makedirs(output_dir)
    
    summary = {"files": {}}
    
    for file_path in input_files:
        file_name = os.path.basename(file_path)
        tree_name = [name for name, cls in file.classnames(cycle=False).items() if cls.startswith("TTree")][0]
        num_entries = tree.num_entries
        branches = tree.branches
        
        summary["files"][file_name] = {"trees": {tree_name: {"entries": num_entries, "branches": branches}}}
    
    with open(os.path.join(output_dir, "summary.json"), "w") as f:
        json.dump(summary, f, indent=4)
    
    with open(os.path.join(output_dir, "summary.txt"), "w") as f:
        for file_name, tree_info in summary["files"].items():
            f.write(f"File: {file_name}\n")
            f.write(f"Tree: {tree_info['trees'][tree_name]['entries']} entries, {len(tree_info['trees'][tree_name]['branches'])} branches\n")
            for branch_name, branch_type in tree_info['trees'][tree_name]['branches']:
                f.write(f"  Branch: {branch_name}, Type: {branch_type}\n")

# PART 2: CONVERT ROOT FILES TO NUPLES

def convert_root_files(input_files, output_dir):
    if not os.path.exists(output_dir):
        os.makedirs(output_dir)
    
    for file_path in input_files:
        file_name = os.path.basename(file_path)
        tree_name = [name for name, cls in file.classnames(cycle=False).items() if cls.startswith("TTree")][0]
        tree = file[tree_name]
        
        # Extract branches
        photon_pt = tree["photon_pt"].array()
        photon_eta = tree["photon_eta"].array()
        photon_phi = tree["photon_phi"].array()
        lep_pt = tree["lep_pt"].array()
        lep_eta = tree["lep_eta"].array()
        lep_phi = tree["lep_phi"].array()
        jet_pt = tree["jet_pt"].array()
        jet_eta = tree["jet_eta"].array()
        jet_phi = tree["jet_phi"].array()
        
        # Create array with the required columns
        columns = [
            "photon1_pt", "photon1_eta", "photon1_phi",
            "photon2_pt", "photon2_eta", "photon2_phi",
            "lep1_pt", "lep1_eta", "lep1_phi",
            "lep2_pt", "lep2_eta", "lep2_phi",
            "jet1_pt", "jet1_eta", "jet1_phi",
            "jet2_pt", "jet2_eta", "jet2_phi"
        ]
        data = ak.Array(
            [
                photon_pt[0] * 0.001, photon_eta[0], photon_phi[0],
                photon_pt[1] * 0.001, photon_eta[1], photon_phi[1],
                lep_pt[0] * 0.001, lep_eta[0], lep_phi[0],
                lep_pt[1] * 0.001, lep_eta[1], lep_phi[1],
                jet_pt[0] * 0.001, jet_eta[0], jet_phi[0],
                jet_pt[1] * 0.001, jet_eta[1], jet_phi[1]
            ],
            dtype=float64,
            shape=(len(photon_pt), len(columns))
        )
        
        # Save the array to the output file
        output_file_path = os.path.join(output_dir, f"{file_name}.npy")
        ak.save(data, output_file_path)

# Example usage
input_files = [
    "data/GamGam/Data/data_A.GamGam.root",
    "data/GamGam/Data/data_B.GamGam.root",
    "data/GamGam/Data/data_C.GamGam.root",
    "data/GamGam/Data/data_D.GamGam.root",
    "data/GamGam/MC/mc_343981.ggH125_gamgam.GamGam.root",
    "data/GamGam/MC/mc_345041.VBFH125_gamgam.GamGam.root",
    "data/GamGam/MC/mc_345318.WpH125J_Wincl_gamgam.GamGam.root",
    "data/GamGam/MC/mc_345319.ZH125J_Zincl_gamgam.GamGam.root",
    "data/GamGam/MC/mc_341081.ttH125_gamgam.GamGam.root"
]
output_dir = "outputs/inspect"

inspect_root_files(input_files, output_dir)
convert_root_files(input_files, output_dir)
