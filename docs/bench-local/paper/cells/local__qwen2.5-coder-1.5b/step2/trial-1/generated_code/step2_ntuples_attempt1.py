import os
import numpy as np
import awkward as ak
from hepmini.tools import *

def read_root_file(file_path):
    with uproot.open(file_path) as file:
        mini_tree = file["mini"]
        return mini_tree

def extract_branches(tree, branches):
    return {branch: tree[branch] for branch in branches}

def save_numpy_array(array, output_path):
    np.save(output_path, array)

def main():
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
    output_files = [
        "outputs/ntuples/data_A.npy",
        "outputs/ntuples/data_B.npy",
        "outputs/ntuples/data_C.npy",
        "outputs/ntuples/data_D.npy",
        "outputs/ntuples/mc_343981.ggH125_gamgam.npy",
        "outputs/ntuples/mc_345041.VBFH125_gamgam.npy",
        "outputs/ntuples/mc_345318.WpH125J_Wincl_gamgam.npy",
        "outputs/ntuples/mc_345319.ZH125J_Zincl_gamgam.npy",
        "outputs/ntuples/mc_341081.ttH125_gamgam.npy"
    ]
    
    for input_file, output_file in zip(input_files, output_files):
        try:
            tree = read_root_file(input_file)
            branches = ["pt", "eta", "phi", "mass"]
            data = extract_branches(tree, branches)
            save_numpy_array(data, output_file)
            print(f"Saved {output_file}")
        except Exception as e:
            print(f"Error reading {input_file}: {e}")
            sys.exit(1)

if __name__ == "__main__":
    main()
