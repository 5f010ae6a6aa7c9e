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
        tree_name = [name for name, cls in uproot.open(file_path).classnames(cycle=False).items() if cls.startswith("TTree")][0]
        
        tree = uproot.open(file_path)[tree_name]
        entries = tree.num_entries
        branches = tree.branches
        
        summary["files"][file_name] = {"trees": {tree_name: {"entries": entries, "branches": branches}}}
    
    with open(os.path.join(output_dir, "summary.json"), "w") as f:
        json.dump(summary, f, indent=4)
    
    with open(os.path.join(output_dir, "summary.txt"), "w") as f:
        for file_name, file_info in summary["files"].items():
            f.write(f"File: {file_name}\n")
            f.write(f"Tree: {file_info['trees'][tree_name]['name']}\n")
            f.write(f"Entries: {file_info['trees'][tree_name]['entries']}\n")
            f.write(f"Branches: {file_info['trees'][tree_name]['branches']}\n")
            f.write("\n")

# PART 2: NTUPLE CONVERSION

def convert_to_npy(input_files, output_dir):
    if not os.path.exists(output_dir):
        os.makedirs(output_dir)
    
    for file_path in input_files:
        file_name = os.path.basename(file_path)
        tree_name = [name for name, cls in uproot.open(file_path).classnames(cycle=False).items() if cls.startswith("TTree")][0]
        
        tree = uproot.open(file_path)[tree_name]
        entries = tree.num_entries
        
        photon_pt = tree["photon_pt"].array()
        photon_eta = tree["photon_eta"].array()
        photon_phi = tree["photon_phi"].array()
        lep_pt = tree["lep_pt"].array()
        lep_eta = tree["lep_eta"].array()
        lep_phi = tree["lep_phi"].array()
        jet_pt = tree["jet_pt"].array()
        jet_eta = tree["jet_eta"].array()
        jet_phi = tree["jet_phi"].array()
        
        data = ak.Array([
            photon_pt[0] * 0.001, photon_eta[0], photon_phi[0],
            photon_pt[1] * 0.001, photon_eta[1], photon_phi[1],
            lep_pt[0] * 0.001, lep_eta[0], lep_phi[0],
            lep_pt[1] * 0.001, lep_eta[1], lep_phi[1],
            jet_pt[0] * 0.001, jet_eta[0], jet_phi[0],
            jet_pt[1] * 0.001, jet_eta[1], jet_phi[1],
            jet_pt[2] * 0.001, jet_eta[2], jet_phi[2],
            jet_pt[3] * 0.001, jet_eta[3], jet_phi[3],
            jet_pt[4] * 0.001, jet_eta[4], jet_phi[4]
        ], dtype=float64)
        
        np.save(os.path.join(output_dir, f"{file_name}.npy"), data)

# Main execution

if __name__ == "__main__":
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
    convert_to_npy(input_files, output_dir)
