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
        file_name = file_name.replace(".GamGam.root", "")
        
        tree_name = [name for name, cls in uproot.open(file_path).classnames(cycle=False).items() if cls.startswith("TTree")][0]
        
        tree = uproot.open(file_path)[tree_name]
        
        entries = tree.num_entries
        branches = tree.branches
        
        summary["files"][file_name] = {"trees": {tree_name: {"entries": entries, "branches": branches}}}
    
    with open(os.path.join(output_dir, "summary.json"), "w") as f:
        json.dump(summary, f, indent=4)
    
    with open(os.path.join(output_dir, "summary.txt"), "w") as f:
        for file_name, data in summary["files"].items():
            f.write(f"File: {file_name}\n")
            f.write(f"Tree: {data['trees'][tree_name]['entries']} entries\n")
            f.write(f"Branches: {len(data['trees'][tree_name]['branches'])}\n")
            for branch in data['trees'][tree_name]['branches']:
                f.write(f"  {branch[0]}: {branch[1]}\n")
            f.write("\n")

# PART 2: NTUPLE CONVERSION

def convert_to_npy(input_files, output_dir):
    if not os.path.exists(output_dir):
        os.makedirs(output_dir)
    
    for file_path in input_files:
        file_name = os.path.basename(file_path)
        file_name = file_name.replace(".GamGam.root", "")
        
        tree = uproot.open(file_path)["mini"]
        
        entries = tree.num_entries
        
        photon_pt = tree["photon_pt"].array()
        photon_eta = tree["photon_eta"].array()
        photon_phi = tree["photon_phi"].array()
        photon_pt = ak.pad_none(photon_pt, 1, axis=0) * 0.001  # MeV -> GeV
        
        lep_pt = tree["lep_pt"].array()
        lep_eta = tree["lep_eta"].array()
        lep_phi = tree["lep_phi"].array()
        lep_pt = ak.pad_none(lep_pt, 1, axis=0) * 0.001  # MeV -> GeV
        
        jet_pt = tree["jet_pt"].array()
        jet_eta = tree["jet_eta"].array()
        jet_phi = tree["jet_phi"].array()
        jet_pt = ak.pad_none(jet_pt, 1, axis=0) * 0.001  # MeV -> GeV
        
        data = ak.Array([photon_pt, photon_eta, photon_phi, lep_pt, lep_eta, lep_phi, jet_pt, jet_eta, jet_phi],
                          dtype=float64,
                          shape=(entries, 46))
        
        np.save(os.path.join(output_dir, f"{file_name}.npy"), data)

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
convert_to_npy(input_files, output_dir)
